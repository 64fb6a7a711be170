import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createLogger, createRedis, encodeReading, newEventId, pipelineKeys, streamKeys } from 'core';
import {
  type RedisServer,
  type ServiceProcess,
  startRedisServer,
  startService,
  uniqueName,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { testStore } from '../../test-helpers.ts';
import { forgetSilentWorkers, pipelineHealth } from './pipeline.ts';
import { startEpochWatch } from './redis-epoch.ts';

const root = join(import.meta.dir, '../../../..');
let server: RedisServer;
let redis: Redis;
let apiRedis: Redis;
let app: ReturnType<typeof createApp>;
const readings = uniqueName('readings');
const alerts = uniqueName('alerts');
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'health-test', maxReconnectDelayMs: 100 });
  apiRedis = createRedis(server.url, {
    name: 'api',
    failFast: true,
    commandTimeoutMs: 1_000,
    maxReconnectDelayMs: 100,
  });
  app = createApp({
    store: testStore(),
    config: { apiToken: 't', readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    pipeline: {
      redis: apiRedis,
      streams: [readings, alerts],
      expectedWorkers: ['consumer-store', 'consumer-alert'],
      lagDegraded: 1_000,
    },
  });
});
afterAll(async () => {
  for (const worker of workers) await worker.kill();
  redis.disconnect();
  apiRedis.disconnect();
  await server.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON it asserts on
const health = async (): Promise<{ code: number; body: any }> => {
  const response = await app.handle(new Request('http://localhost/health'));
  return { code: response.status, body: await response.json() };
};

function startWorker(service: 'consumer-store' | 'consumer-alert', name: string) {
  const worker = startService(join(root, `${service}/src/index.ts`), {
    REDIS_URL: server.url,
    READINGS_STREAM: readings,
    ALERTS_STREAM: alerts,
    API_URL: 'http://127.0.0.1:9',
    API_TOKEN: 't',
    CONSUMER_NAME: name,
    HEARTBEAT_INTERVAL_MS: '200',
  });
  workers.push(worker);
  return worker;
}

describe('/health of the whole pipeline', () => {
  it('is ok with every worker alive, degraded when one is killed, ok again when it is back', async () => {
    startWorker('consumer-store', 'store-1');
    const alerter = startWorker('consumer-alert', 'alert-1');
    const ok = await waitFor(
      async () => {
        const current = await health();
        return current.body.status === 'ok' && current;
      },
      { what: 'ok', timeoutMs: 15_000 },
    );
    expect(ok.code).toBe(200);
    expect(ok.body.workers.map((w: { service: string; status: string }) => [w.service, w.status])).toEqual([
      ['consumer-alert', 'alive'],
      ['consumer-store', 'alive'],
    ]);
    expect(ok.body.checks.redis.status).toBe('ok');

    await alerter.kill('SIGKILL');
    const degraded = await waitFor(
      async () => {
        const current = await health();
        return current.body.status === 'degraded' && current;
      },
      { what: 'degraded' },
    );
    expect(degraded.code).toBe(200);
    expect(degraded.body.reasons.join(' ')).toContain('no live consumer-alert (the last one was seen');
    expect(degraded.body.workers.find((w: { service: string }) => w.service === 'consumer-alert').status).toBe(
      'silent',
    );

    startWorker('consumer-alert', 'alert-1');
    await waitFor(async () => (await health()).body.status === 'ok', { what: 'ok again', timeoutMs: 15_000 });
  });

  it('reports lag and pending entries of a paused group exactly', async () => {
    await redis.xgroup('CREATE', readings, 'paused', '$', 'MKSTREAM');
    const pipeline = redis.pipeline();
    for (let i = 0; i < 25; i++) pipeline.xadd(readings, '*', 'v', '1', 'n', String(i));
    await pipeline.exec();
    await redis.xreadgroup('GROUP', 'paused', 'p', 'COUNT', 10, 'STREAMS', readings, '>');
    const { body } = await health();
    expect(body.groups.find((g: { group: string }) => g.group === 'paused')).toMatchObject({
      stream: readings,
      group: 'paused',
      consumers: 1,
      pending: 10,
      lag: 15,
    });
    const metrics = await (await app.handle(new Request('http://localhost/metrics'))).text();
    expect(metrics).toContain(`pipeline_group_lag{stream="${readings}",group="paused"} 15`);
    expect(metrics).toContain(`pipeline_group_pending{stream="${readings}",group="paused"} 10`);
    expect(metrics).toMatch(/pipeline_worker_up\{service="consumer-store",worker="store-1"\} 1/);
    // Prometheus sets `instance` itself; a label of ours by that name would be renamed on scrape.
    expect(metrics).not.toMatch(/[{,]instance="/);
    // Counts are counters; a maximum is a gauge of its own, never among the counters.
    expect(metrics).toMatch(
      /pipeline_worker_events_total\{service="consumer-store",worker="store-1",event="acked"\} \d+/,
    );
    expect(metrics).toMatch(
      /pipeline_worker_value\{service="consumer-store",worker="store-1",name="handlerMsMax"\} \d+/,
    );
    expect(metrics).not.toContain('event="handlerMsMax"');
    // Prometheus's own linter accepts the whole exposition (CI installs promtool).
    const promtool = Bun.spawn(['promtool', 'check', 'metrics'], {
      stdin: new TextEncoder().encode(metrics),
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const complaints = (await new Response(promtool.stdout).text()) + (await new Response(promtool.stderr).text());
    expect({ code: await promtool.exited, complaints }).toEqual({ code: 0, complaints: '' });
    // The entries above are no readings: the store and alert workers dead-letter them.
    await waitFor(async () => (await health()).body.deadLetters.some((d: { entries: number }) => d.entries > 0), {
      what: 'dead letters',
    });
    expect((await health()).body.reasons.join(' ')).toContain(`entries in ${streamKeys(redis, readings).dead}`);
    await redis.del(streamKeys(redis, readings).dead);
  });

  it('adds each group up over the partitions of the readings and alerts streams', async () => {
    const base = uniqueName('partitioned');
    const partitions = [base, `${base}:1`];
    const alerts = uniqueName('alerts-partitioned');
    const alertPartitions = [alerts, `${alerts}:1`];
    for (const [index, stream] of partitions.entries()) {
      await redis.xgroup('CREATE', stream, 'store', '$', 'MKSTREAM');
      for (let i = 0; i < 5 + index; i++) await redis.xadd(stream, '*', 'v', '1', 'n', String(i));
      await redis.xreadgroup('GROUP', 'store', 's', 'COUNT', 2, 'STREAMS', stream, '>');
    }
    for (const stream of alertPartitions) {
      await redis.xgroup('CREATE', stream, 'notify', '$', 'MKSTREAM');
      await redis.xadd(stream, '*', 'v', '1');
    }
    const view = await pipelineHealth({
      redis: apiRedis,
      streams: [...partitions, ...alertPartitions],
      partitions: [
        { stream: base, streams: partitions },
        { stream: alerts, streams: alertPartitions },
      ],
      expectedWorkers: [],
      lagDegraded: 1_000,
    });
    expect(view.partitionTotals).toEqual([
      expect.objectContaining({ stream: base, group: 'store', partitions: 2, consumers: 1, pending: 4, lag: 7 }),
      expect.objectContaining({ stream: alerts, group: 'notify', partitions: 2, pending: 0, lag: 2 }),
    ]);
    const alone = await pipelineHealth({ redis: apiRedis, streams: [base], expectedWorkers: [], lagDegraded: 1_000 });
    expect(alone.partitionTotals).toBeUndefined();
  });

  it('is degraded when entries wait longer than STALL_DEGRADED_MS for a group, unread or unacknowledged', async () => {
    const stream = uniqueName('stalled');
    const stalledApp = createApp({
      store: testStore(),
      config: { apiToken: 't', readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
      pipeline: { redis: apiRedis, streams: [stream], expectedWorkers: [], lagDegraded: 1_000, stallDegradedMs: 300 },
    });
    const view = async () =>
      (await (await stalledApp.handle(new Request('http://localhost/health'))).json()) as {
        status: string;
        reasons: string[];
      };
    await redis.xgroup('CREATE', stream, 'idle', '$', 'MKSTREAM');
    await redis.xadd(stream, '*', 'n', '1');
    const unread = await waitFor(
      async () => {
        const current = await view();
        return current.status === 'degraded' && current;
      },
      { what: 'degraded by an unread entry' },
    );
    expect(unread.reasons.join(' ')).toContain(`group idle on ${stream} has an entry waiting`);
    // Read but never acknowledged (a consumer stuck on it): still waiting.
    await redis.xreadgroup('GROUP', 'idle', 'stuck', 'COUNT', 10, 'STREAMS', stream, '>');
    expect((await view()).reasons.join(' ')).toContain(`group idle on ${stream} has an entry waiting`);
    const ids = (await redis.xrange(stream, '-', '+')).map(([id]) => id);
    await redis.xack(stream, 'idle', ...ids);
    expect((await view()).status).toBe('ok');
  });

  it('is degraded while consumer-store is alive but not consuming (the API refuses its token)', async () => {
    const refusing = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () => new Response('{"error":"unauthorized"}', { status: 401 }),
    });
    const stream = uniqueName('readings');
    const worker = startService(join(root, 'consumer-store/src/index.ts'), {
      REDIS_URL: server.url,
      READINGS_STREAM: stream,
      API_URL: `http://127.0.0.1:${refusing.port}`,
      API_TOKEN: 'wrong',
      CONSUMER_NAME: 'store-refused',
      HEARTBEAT_INTERVAL_MS: '200',
    });
    workers.push(worker);
    await waitFor(() => worker.events('consuming').length === 1, { what: 'consumer-store up' });
    await redis.xadd(
      stream,
      '*',
      ...encodeReading({ id: newEventId(), deviceId: 'd', metric: 'kwh', value: 1, unit: 'kWh', ts: Date.now() }),
    );
    const degraded = await waitFor(
      async () => {
        const current = await health();
        return (
          current.body.reasons.some((reason: string) => reason.includes('consumer-store not consuming')) && current
        );
      },
      { what: 'degraded by a consumer that stopped' },
    );
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.reasons.join(' ')).toContain('the API refuses its API_TOKEN');
    expect(degraded.body.workers.find((w: { instance: string }) => w.instance === 'store-refused').problem).toContain(
      'not consuming',
    );
    await worker.kill('SIGKILL');
    refusing.stop(true);
  });

  it('says when Redis comes back without its data (restarted empty), and counts it', async () => {
    const volatile = await startRedisServer({ appendOnly: false });
    const volatileRedis = createRedis(volatile.url, {
      name: 'api',
      failFast: true,
      commandTimeoutMs: 1_000,
      maxReconnectDelayMs: 100,
    });
    const epoch = startEpochWatch({ redis: volatileRedis, intervalMs: 100 });
    try {
      const watched = createApp({
        store: testStore(),
        config: { apiToken: 't', readToken: undefined, maxBodyBytes: 1_000_000 },
        logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
        pipeline: { redis: volatileRedis, streams: [], expectedWorkers: [], lagDegraded: 1_000, epoch },
      });
      const view = async () =>
        (await (await watched.handle(new Request('http://localhost/health'))).json()) as {
          status: string;
          reasons: string[];
        };
      await waitFor(async () => (await volatileRedis.exists(pipelineKeys.epoch).catch(() => 0)) === 1, {
        what: 'marker written',
      });
      expect((await view()).status).toBe('ok');
      await volatile.kill();
      await volatile.restart();
      const lost = await waitFor(
        async () => {
          const current = await view().catch(() => undefined);
          return current?.status === 'degraded' && current;
        },
        { what: 'data loss noticed' },
      );
      expect(lost.reasons.join(' ')).toContain('Redis lost its data at');
      const metrics = await (await watched.handle(new Request('http://localhost/metrics'))).text();
      expect(metrics).toMatch(/^pipeline_redis_data_losses_total 1$/m);
    } finally {
      epoch.stop();
      volatileRedis.disconnect();
      await volatile.stop();
    }
  });

  it('has no side effects: a silent or unreadable worker entry is skipped, and only the janitor removes it', async () => {
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    await redis.hset(
      pipelineKeys.workers,
      'consumer-store:gone',
      JSON.stringify({ service: 'consumer-store', instance: 'gone', at: longAgo, ttlMs: 1_000 }),
      'junk:entry',
      '{not json',
    );
    const before = await redis.hgetall(pipelineKeys.workers);
    const seen = (await health()).body.workers.map((w: { instance: string }) => w.instance);
    expect(seen).not.toContain('gone');
    // Nothing removed, the planted entries as they were (the live workers rewrite their own
    // entries with every heartbeat meanwhile: a CI run saw one change between the two reads).
    const during = await redis.hgetall(pipelineKeys.workers);
    expect(Object.keys(during).sort()).toEqual(Object.keys(before).sort());
    expect([during['consumer-store:gone'], during['junk:entry']]).toEqual([
      before['consumer-store:gone'],
      before['junk:entry'],
    ]);
    expect(await forgetSilentWorkers(redis)).toBe(2);
    const after = await redis.hgetall(pipelineKeys.workers);
    expect(Object.keys(after)).not.toContain('consumer-store:gone');
    expect(Object.keys(after)).not.toContain('junk:entry');
  });

  it('is down (503) at once when Redis stops, and recovers when it is back', async () => {
    await server.kill();
    const down = await health();
    expect(down.code).toBe(503);
    expect(down.body.status).toBe('down');
    expect(down.body.checks.redis.status).toBe('down');
    await server.restart();
    await waitFor(async () => (await health()).code === 200, { what: 'Redis back', timeoutMs: 15_000 });
  });
});
