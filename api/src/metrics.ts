import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CompressionTiers, DiskBytes, WalStatus } from './storage/port.ts';

/** The API's Prometheus metrics, in a registry of its own so that several apps (tests) never clash. */
/** Live counts read when /metrics is scraped. */
export interface LiveCounts {
  readings: () => number;
  alerts: () => number;
  /** Clients dropped so far because they could not keep up, per feed. */
  dropped?: () => { readings: number; alerts: number };
  /** Clients refused so far by the stream caps. */
  refused?: () => number;
}

/** What /metrics says of storage: the oldest raw reading, the bytes on disk, retention's and compression's work, SQLite's WAL. */
export interface StorageFacts {
  oldestReadingTs(): Promise<number | null>;
  diskBytes?(): Promise<DiskBytes>;
  retention?(): { runs: number; removed: number };
  compression?(): { runs: number; moved: number; tiers: CompressionTiers | null };
  wal?(): WalStatus;
}

export function createApiMetrics(live?: LiveCounts, storage?: StorageFacts) {
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
  const stored = new Counter({
    name: 'api_readings_stored_total',
    help: 'Readings stored (new rows)',
    registers: [registry],
  });
  const duplicates = new Counter({
    name: 'api_readings_duplicates_total',
    help: 'Readings received again with an id already stored (redeliveries, retries, replays)',
    registers: [registry],
  });
  const exported = new Counter({
    name: 'api_readings_exported_total',
    help: 'Rows sent by /readings/export',
    registers: [registry],
  });
  const conflicts = new Counter({
    name: 'api_readings_conflicts_total',
    help: 'Readings offered with an id already stored under other content (the stored version stays)',
    registers: [registry],
  });
  const ingested = new Counter({
    name: 'api_readings_ingested_total',
    help: 'Readings sent to POST /ingest: accepted (in the stream) or refused (invalid)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'api_readings_refused_total',
    help: 'Batch items refused as invalid while the rest of their batch was stored',
    registers: [registry],
  });
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
  new Counter({
    name: 'api_live_clients_dropped_total',
    help: 'Server-Sent Events clients dropped because they could not keep up (they may resume)',
    labelNames: ['feed'] as const,
    registers: [registry],
    collect() {
      const dropped = live?.dropped?.() ?? { readings: 0, alerts: 0 };
      this.reset();
      this.inc({ feed: 'readings' }, dropped.readings);
      this.inc({ feed: 'alerts' }, dropped.alerts);
    },
  });
  new Counter({
    name: 'api_live_clients_refused_total',
    help: 'Server-Sent Events clients refused (429) by MAX_STREAM_CLIENTS or MAX_STREAM_CLIENTS_PER_IP',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(live?.refused?.() ?? 0);
    },
  });
  new Gauge({
    name: 'api_storage_oldest_reading_timestamp_seconds',
    help: 'When the oldest stored reading was measured (Unix seconds); absent with no readings',
    registers: [registry],
    async collect() {
      this.reset();
      const oldest = await storage?.oldestReadingTs().catch(() => null);
      if (oldest !== null && oldest !== undefined) this.set(oldest / 1_000);
    },
  });
  new Gauge({
    name: 'api_storage_bytes',
    help: 'What the database takes on disk, in bytes: part="data" (tables and indexes) and part="wal" (SQLite\'s write-ahead log)',
    labelNames: ['part'],
    registers: [registry],
    async collect() {
      this.reset();
      const bytes = await storage?.diskBytes?.().catch(() => undefined);
      if (!bytes) return;
      this.set({ part: 'data' }, bytes.data);
      this.set({ part: 'wal' }, bytes.wal);
    },
  });
  new Counter({
    name: 'api_retention_runs_total',
    help: 'Retention passes over the raw readings (RETAIN_RAW_DAYS)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(storage?.retention?.().runs ?? 0);
    },
  });
  new Counter({
    name: 'api_retention_removed_total',
    help: 'Raw readings removed by retention (RETAIN_RAW_DAYS)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(storage?.retention?.().removed ?? 0);
    },
  });
  new Counter({
    name: 'api_compression_runs_total',
    help: 'Compression passes over the cold readings (COMPRESS_AFTER_HOURS)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(storage?.compression?.().runs ?? 0);
    },
  });
  new Counter({
    name: 'api_compression_moved_total',
    help: 'Readings moved from rows into compressed chunks (COMPRESS_AFTER_HOURS)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(storage?.compression?.().moved ?? 0);
    },
  });
  tierGauges(registry, () => storage?.compression?.().tiers ?? null);
  const wal = storage?.wal?.bind(storage);
  if (wal) {
    new Gauge({
      name: 'api_sqlite_wal_bytes',
      help: "SQLite's write-ahead log on disk, in bytes (held under ~64 MiB)",
      registers: [registry],
      collect() {
        this.set(wal().bytes);
      },
    });
    new Counter({
      name: 'api_sqlite_wal_resets_total',
      help: "Times SQLite's write-ahead log was emptied with the readers making way (they never paused by themselves)",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(wal().resets);
      },
    });
  }
  const damaged = new Counter({
    name: 'api_storage_damaged_total',
    help: 'Requests that met damaged stored data (a compressed chunk that does not decode), answered 500 storage_damaged',
    registers: [registry],
  });
  return {
    registry,
    requests,
    duration,
    stored,
    duplicates,
    exported,
    conflicts,
    refused,
    ingested,
    liveClients,
    damaged,
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** Each tier's readings and the chunks' bytes, as the last compression pass found them (absent before one). */
function tierGauges(registry: Registry, tiers: () => CompressionTiers | null) {
  const gauge = (name: string, help: string, value: (known: CompressionTiers) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const known = tiers();
        this.reset();
        if (known) this.set(value(known));
      },
    });
  gauge('api_readings_rows', 'Readings kept as rows, at the last compression pass', (known) => known.rowReadings);
  gauge(
    'api_readings_compressed',
    'Readings kept in compressed chunks, at the last compression pass',
    (known) => known.compressedReadings,
  );
  gauge('api_compressed_chunks', 'Compressed chunks, at the last compression pass', (known) => known.chunks);
  gauge(
    'api_compressed_chunk_bytes',
    "Compressed chunks' own bytes (bodies and id filters), at the last compression pass",
    (known) => known.chunkBytes,
  );
  gauge(
    'api_compression_waiting_rows',
    'Rows of days past COMPRESS_AFTER_HOURS not moved yet (late ones, and the newest row), at the last pass',
    (known) => known.waitingRows,
  );
}
