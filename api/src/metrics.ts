import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The API's Prometheus metrics, in a registry of its own so that several apps (tests) never clash. */
/** Live counts read when /metrics is scraped. */
export interface LiveCounts {
  readings: () => number;
  alerts: () => number;
}

export function createApiMetrics(live?: LiveCounts) {
  const registry = new Registry();
  const requests = new Counter({
    name: 'api_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'api_http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const stored = new Counter({ name: 'api_readings_stored_total', help: 'Readings stored (new rows)', registers: [registry] });
  const duplicates = new Counter({
    name: 'api_readings_duplicates_total',
    help: 'Readings received again with an id already stored (redeliveries, retries, replays)',
    registers: [registry],
  });
  const exported = new Counter({ name: 'api_readings_exported_total', help: 'Rows sent by /readings/export', registers: [registry] });
  const liveClients = new Gauge({
    name: 'api_live_clients',
    help: 'Server-Sent Events clients connected',
    labelNames: ['feed'] as const,
    registers: [registry],
    collect() {
      this.set({ feed: 'readings' }, live?.readings() ?? 0);
      this.set({ feed: 'alerts' }, live?.alerts() ?? 0);
    },
  });
  return { registry, requests, duration, stored, duplicates, exported, liveClients };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
