import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRedis,
  decodeReading,
  encodeReading,
  encodeReadingV1,
  newEventId,
  publishReadings,
  readConsumers,
  readingStreams,
  readDeadLetters,
  readGroups,
  streamKeys,
} from 'core';
import {
  type PostgresServer,
  type RedisServer,
  type ServiceProcess,
  freePort,
  startPostgresServer,
  startRedisServer,
  startService,
  startTcpProxy,
  uniqueName,
  waitFor,
  streamReadings,
} from 'core/testing';
import type Redis from 'ioredis';

const TOKEN = 'store-test-token';
/**
 * The readings stream's partitions for the whole suite (`bun run test` runs it with 1 and with 4):
 * readings are published through the partitions, the services start with STREAM_PARTITIONS, and
 * groups, lengths and readings are looked at over every partition.
 */
const PARTITIONS = Number(process.env.TEST_STREAM_PARTITIONS ?? '1');
const partitioned: Record<string, string> = PARTITIONS > 1 ? { STREAM_PARTITIONS: String(PARTITIONS) } : {};
const partitionsOf = (stream: string) => readingStreams(stream, PARTITIONS).streams;
const storeEntry = join(import.meta.dir, 'index.ts');
const rebuildEntry = join(import.meta.dir, 'rebuild.ts');
const apiEntry = join(import.meta.dir, '../../api/src/index.ts');

let server: RedisServer;
let redis: Redis;
let dir: string;
let dbPath: string;
let apiPort: number;
let api: ServiceProcess;
const services: ServiceProcess[] = [];

async function startApi(env: Record<string, string> = {}) {
  api = startService(apiEntry, {
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    REDIS_URL: server.url,
    DATABASE_URL: dbPath,
    API_TOKEN: TOKEN,
    LOG_LEVEL: 'warn',
    ...env,
  });
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${apiPort}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    { what: 'API' },
  );
}

beforeAll(async () => {
  // fsync always: a reading the stream acknowledged survives kill -9 of Redis.
  server = await startRedisServer({ fsync: 'always' });
  redis = createRedis(server.url, { name: 'store-test', maxReconnectDelayMs: 100 });
  dir = await mkdtemp(join(tmpdir(), 'store-test-'));
  dbPath = join(dir, 'telemetry.db');
  apiPort = await freePort();
  await startApi();
});
afterAll(async () => {
  for (const service of services) await service.kill();
  await api.kill('SIGTERM');
  redis.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function startStore(stream: string, env: Record<string, string> = {}, entry = storeEntry) {
  const service = startService(entry, {
    REDIS_URL: server.url,
    API_URL: `http://127.0.0.1:${apiPort}`,
    API_TOKEN: TOKEN,
    READINGS_STREAM: stream,
    CLAIM_IDLE_MS: '1000',
    STATUS_INTERVAL_MS: '500',
    TRIM_INTERVAL_MS: '300',
    REQUEST_TIMEOUT_MS: '2000',
    ...partitioned,
    ...env,
  });
  services.push(service);
  return service;
}

/**
 * Publishes `count` valid readings tagged with `metric`, an entry each (in partitions: framed, each
 * to its device's partition, as the doors publish); returns their ids.
 */
async function publish(stream: string, metric: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  if (PARTITIONS > 1) {
    const readings = Array.from({ length: count }, (_, i) => ({
      id: newEventId(),
      deviceId: `device-${i % 1_000}`,
      metric,
      value: i % 100,
      unit: 'kWh',
      ts: Date.now(),
    }));
    // An entry each, as below: trimming and the pending counts are about entries.
    await publishReadings(redis, readingStreams(stream, PARTITIONS), readings, 1);
    return readings.map((reading) => reading.id);
  }
  for (let start = 0; start < count; start += 5_000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + 5_000); i++) {
      const id = newEventId();
      ids.push(id);
      pipeline.xadd(
        stream,
        '*',
        ...encodeReading({ id, deviceId: `device-${i % 1_000}`, metric, value: i % 100, unit: 'kWh', ts: Date.now() }),
      );
    }
    await pipeline.exec();
  }
  return ids;
}

/** Ids of the rows the API holds for `metric`, one per row (a row stored twice shows twice), read over HTTP. */
async function storedIds(metric: string): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${apiPort}/readings/export?format=ndjson&metric=${metric}`);
  return (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id);
}

/** The group's pending entries and lag on `stream`, added up over its partitions. */
async function groupState(stream: string, group = 'store') {
  let found: { pending: number; lag: number | null } | undefined;
  for (const partition of partitionsOf(stream)) {
    const state = (await readGroups(redis, partition)).find((g) => g.name === group);
    if (!state) continue;
    // A lag Redis cannot tell (null) in any partition is not told for the whole.
    const lag =
      found === undefined ? state.lag : found.lag === null || state.lag === null ? null : found.lag + state.lag;
    found = { pending: (found?.pending ?? 0) + state.pending, lag };
  }
  return found;
}

/** Entries in the stream, over its partitions. */
async function streamLength(stream: string): Promise<number> {
  let length = 0;
  for (const partition of partitionsOf(stream)) length += await redis.xlen(partition);
  return length;
}

/** The promise: every reading sent is stored, none twice, nothing left pending, lag 0. */
async function expectExact(stream: string, metric: string, sent: string[], timeoutMs = 30_000) {
  await waitFor(async () => (await storedIds(metric)).length >= sent.length, {
    what: `${sent.length} rows`,
    timeoutMs,
  });
  await waitFor(async () => (await groupState(stream))?.pending === 0, { what: 'no pending entries', timeoutMs });
  const stored = await storedIds(metric);
  expect(stored.length).toBe(sent.length);
  expect(new Set(stored)).toEqual(new Set(sent));
  expect(await groupState(stream)).toEqual({ pending: 0, lag: 0 });
}

describe(`consumer-store with real Redis, API and processes${PARTITIONS > 1 ? ` (the readings in ${PARTITIONS} partitions)` : ''}`, () => {
  it('stores a 20,000-reading baseline exactly', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'baseline', 20_000);
    startStore(stream);
    await expectExact(stream, 'baseline', sent);
  });

  // Partitions of its own: the suite's other run has them everywhere.
  it.if(PARTITIONS === 1)(
    'with the readings in 4 partitions: two instances, one killed -9 mid-run, store each once; another count stops a start, naming both; the rebuild reads them all',
    async () => {
      const stream = uniqueName('readings');
      const streams = readingStreams(stream, 4);
      const readings = Array.from({ length: 20_000 }, (_, i) => ({
        id: newEventId(),
        deviceId: `device-${i % 1_000}`,
        metric: 'partitioned',
        value: i % 100,
        unit: 'kWh',
        ts: Date.now(),
      }));
      await publishReadings(redis, streams, readings);
      const env = { STREAM_PARTITIONS: '4', BATCH_SIZE: '500' };
      const doomed = startStore(stream, { ...env, CONSUMER_NAME: 'partitions-1' });
      startStore(stream, { ...env, CONSUMER_NAME: 'partitions-2' });
      await waitFor(async () => ((await groupState(streams.streams[3] as string))?.pending ?? 0) > 0, {
        what: 'entries in hand',
      });
      await doomed.kill('SIGKILL');
      await waitFor(async () => (await storedIds('partitioned')).length >= readings.length, {
        what: `${readings.length} rows`,
        timeoutMs: 30_000,
      });
      for (const partition of streams.streams)
        await waitFor(async () => (await groupState(partition))?.pending === 0, { what: `${partition} drained` });
      const stored = await storedIds('partitioned');
      expect(stored.length).toBe(readings.length);
      expect(new Set(stored)).toEqual(new Set(readings.map((reading) => reading.id)));

      const refused = startStore(stream, { STREAM_PARTITIONS: '2' });
      expect(await refused.exited).toBe(1);
      expect(refused.output()).toContain('STREAM_PARTITIONS is 2');
      expect(refused.output()).toContain('into 4 partitions');

      // Rows lost from storage come back from every partition by the rebuild, whose group goes.
      for (const { id } of readings.slice(0, 100)) {
        const response = await fetch(`http://127.0.0.1:${apiPort}/readings/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        expect(response.status).toBe(204);
      }
      const rebuild = startStore(stream, { STREAM_PARTITIONS: '4' }, rebuildEntry);
      expect(await rebuild.exited).toBe(0);
      expect(new Set(await storedIds('partitioned'))).toEqual(new Set(readings.map((reading) => reading.id)));
      expect(rebuild.events('rebuilt')[0]).toMatchObject({ inserted: 100, duplicates: 19_900 });
      for (const partition of streams.streams)
        expect((await readGroups(redis, partition)).map((g) => g.name)).toEqual(['store']);
    },
  );

  it('is exact when killed with -9 mid-run and restarted under the same name', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'restart', 30_000);
    const first = startStore(stream, { CONSUMER_NAME: 'store-1', BATCH_SIZE: '500' });
    // Progress read from the group (cheap), not from an export of what is stored: polling exports
    // was slow enough that the consumer sometimes finished before the kill.
    await waitFor(async () => sent.length - ((await groupState(stream))?.lag ?? sent.length) > 2_000, {
      what: 'some progress',
    });
    await first.kill('SIGKILL');
    startStore(stream, { CONSUMER_NAME: 'store-1', BATCH_SIZE: '500' });
    await expectExact(stream, 'restart', sent);
  });

  it('is exact when a killed consumer never returns and another takes over its entries', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'takeover', 20_000);
    const doomed = startStore(stream, { CONSUMER_NAME: 'doomed', BATCH_SIZE: '500' });
    await waitFor(async () => (await groupState(stream))?.pending ?? 0 > 0, { what: 'entries in hand' });
    await doomed.kill('SIGKILL');
    const heir = startStore(stream, { CONSUMER_NAME: 'heir' });
    await expectExact(stream, 'takeover', sent);
    await waitFor(() => heir.events('claimed').length > 0, { what: 'a claim in the log' });
  });

  it('shares the work between two instances, exactly', async () => {
    const stream = uniqueName('readings');
    const a = startStore(stream, { CONSUMER_NAME: 'a', BATCH_SIZE: '200' });
    const b = startStore(stream, { CONSUMER_NAME: 'b', BATCH_SIZE: '200' });
    await waitFor(() => a.output().includes('consuming') && b.output().includes('consuming'), {
      what: 'both consuming',
    });
    const sent = await publish(stream, 'shared', 20_000);
    await expectExact(stream, 'shared', sent);
    expect(await readConsumers(redis, stream, 'store')).toHaveLength(2);
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
    const storedBy = [a, b].map((service) => Number(service.events('stopped')[0]?.acked ?? 0));
    expect(storedBy.every((count) => count > 0)).toBe(true);
    expect(storedBy[0]! + storedBy[1]!).toBe(20_000);
  });

  it('waits out an API outage of 10 s without crashing, then is exact', async () => {
    const stream = uniqueName('readings');
    const store = startStore(stream);
    const first = await publish(stream, 'outage', 5_000);
    await waitFor(async () => (await storedIds('outage')).length === 5_000, { what: 'first part stored' });
    await api.kill('SIGKILL');
    const second = await publish(stream, 'outage', 5_000);
    await Bun.sleep(10_000);
    expect(store.child.exitCode).toBeNull();
    await startApi();
    await expectExact(stream, 'outage', [...first, ...second]);
    expect(store.events('handler_failed_retrying').length).toBeGreaterThan(0);
  }, 60_000);

  it('is exact when Redis is killed -9 mid-run and restarts from its AOF', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'redis-crash', 30_000);
    const store = startStore(stream, { BATCH_SIZE: '500' });
    await waitFor(async () => (await storedIds('redis-crash')).length > 3_000, { what: 'some progress' });
    await server.kill('SIGKILL');
    await Bun.sleep(1_000);
    await server.restart();
    await expectExact(stream, 'redis-crash', sent);
    expect(store.child.exitCode).toBeNull();
  }, 60_000);

  it('dead-letters a reading whose id is stored with other content, with both versions, and stores the rest of its batch once', async () => {
    const stream = uniqueName('readings');
    const original = { id: newEventId(), deviceId: 'd', metric: 'conflict', value: 10, unit: 'kWh', ts: Date.now() };
    await redis.xadd(stream, '*', ...encodeReading(original));
    const store = startStore(stream);
    await waitFor(async () => (await storedIds('conflict')).length === 1, { what: 'original stored' });
    const changedId = await redis.xadd(stream, '*', ...encodeReading({ ...original, value: 99 }));
    const more = await publish(stream, 'conflict', 500);
    await expectExact(stream, 'conflict', [original.id, ...more]);
    const dead = await readDeadLetters(redis, streamKeys(redis, stream).dead);
    expect(dead.map((letter) => letter.entryId)).toEqual([changedId as string]);
    expect(dead[0]?.reason).toContain(`conflict: id ${original.id} is already stored with other content`);
    expect(dead[0]?.reason).toContain('"value":10');
    expect(decodeReading(dead[0]?.fields ?? []).value).toBe(99);
    // Refused items cost only themselves: the batch was not sent again.
    expect(store.events('handler_failed_retrying')).toHaveLength(0);
  });

  it('stores v1 entries still in the stream (written before an upgrade) next to v2 ones', async () => {
    const stream = uniqueName('readings');
    const before = Array.from({ length: 50 }, () => ({
      id: newEventId(),
      deviceId: 'old-7',
      metric: 'mixed',
      value: 1.5,
      unit: '°C',
      ts: Date.now(),
    }));
    for (const reading of before) await redis.xadd(stream, '*', ...encodeReadingV1(reading));
    const after = await publish(stream, 'mixed', 50);
    startStore(stream);
    await expectExact(stream, 'mixed', [...before.map((r) => r.id), ...after]);
    expect(await redis.xlen(streamKeys(redis, stream).dead)).toBe(0);
  });

  it('dead-letters poison entries with a reason and stores all the others', async () => {
    const stream = uniqueName('readings');
    const good = await publish(stream, 'poison', 1_000);
    const undecodable = await redis.xadd(
      stream,
      '*',
      'v',
      '1',
      'id',
      'x',
      'deviceId',
      'd',
      'metric',
      'poison',
      'value',
      'NaN',
      'unit',
      'u',
      'ts',
      '1',
    );
    // A valid epoch ms, but further ahead than the contract allows: dead-lettered alone at decode,
    // without sending its batch to the API (which would refuse it too).
    const rejected = await redis.xadd(
      stream,
      '*',
      ...encodeReading({
        id: newEventId(),
        deviceId: 'd',
        metric: 'poison',
        value: 1,
        unit: 'u',
        ts: 8_640_000_000_000_000,
      }),
    );
    const more = await publish(stream, 'poison', 1_000);
    startStore(stream);
    await expectExact(stream, 'poison', [...good, ...more]);
    const dead = await readDeadLetters(redis, streamKeys(redis, stream).dead);
    expect(dead.map((letter) => letter.entryId).sort()).toEqual([undecodable as string, rejected as string].sort());
    expect(dead.find((letter) => letter.entryId === undecodable)?.reason).toContain('value must be a finite number');
    expect(dead.find((letter) => letter.entryId === rejected)?.reason).toContain(
      "ts is more than 24 hours ahead of this receiver's clock",
    );
  });

  it('never trims what a paused group has not read, and trims what every group has', async () => {
    const stream = uniqueName('readings');
    for (const partition of partitionsOf(stream)) await redis.xgroup('CREATE', partition, 'paused', '0', 'MKSTREAM');
    const sent = await publish(stream, 'trim', 5_000);
    startStore(stream, { RETAIN_ENTRIES: '100' });
    await expectExact(stream, 'trim', sent);
    await Bun.sleep(1_000);
    // The paused group has read nothing: all 5,000 are still there.
    expect(await streamLength(stream)).toBe(5_000);
    // Once it reads and acks half of each partition, the store group having read everything, that half may go.
    const left = new Map<string, { length: number; firstUnread: string }>();
    for (const partition of partitionsOf(stream)) {
      const length = await redis.xlen(partition);
      const taken = (await redis.xreadgroup(
        'GROUP',
        'paused',
        'p',
        'COUNT',
        Math.ceil(length / 2),
        'STREAMS',
        partition,
        '>',
      )) as unknown as [[string, Array<[string]>]];
      await redis.xack(partition, 'paused', ...taken[0][1].map(([id]) => id));
      const lastTaken = taken[0][1].at(-1)?.[0] as string;
      const firstUnread = (await redis.xrange(partition, `(${lastTaken}`, '+', 'COUNT', 1))[0]?.[0] as string;
      left.set(partition, { length: length - Math.ceil(length / 2), firstUnread });
    }
    for (const [partition, { length, firstUnread }] of left) {
      await waitFor(async () => (await redis.xlen(partition)) <= Math.max(length, 100), {
        what: `trim of ${partition} after the paused group acked`,
      });
      const oldestLeft = (await redis.xrange(partition, '-', '+', 'COUNT', 1))[0]?.[0] as string;
      expect(oldestLeft <= firstUnread).toBe(true);
      expect(await redis.xlen(partition)).toBeGreaterThanOrEqual(Math.min(100, length));
    }
  });

  it('on SIGTERM finishes and acks the batch in hand, then exits 0', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'sigterm', 1_000);
    // Freeze the API so that the batch is held mid-request when SIGTERM arrives.
    process.kill(api.pid, 'SIGSTOP');
    try {
      const store = startStore(stream, { REQUEST_TIMEOUT_MS: '20000' });
      await waitFor(async () => (await groupState(stream))?.pending === 1_000, { what: 'batch in hand' });
      store.child.kill('SIGTERM');
      await Bun.sleep(300);
      expect(store.child.exitCode).toBeNull();
      process.kill(api.pid, 'SIGCONT');
      expect(await store.exited).toBe(0);
    } finally {
      process.kill(api.pid, 'SIGCONT');
    }
    expect(await groupState(stream)).toEqual({ pending: 0, lag: 0 });
    expect(new Set(await storedIds('sigterm'))).toEqual(new Set(sent));
  });

  it('stops consuming on a wrong token, loudly, losing nothing', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'badtoken', 100);
    const store = startStore(stream, { API_TOKEN: 'wrong' });
    await waitFor(() => store.events('not_consuming').length > 0, { what: 'the loud error' });
    expect(String(store.events('not_consuming')[0]?.reason)).toContain('API answered 401');
    expect(await storedIds('badtoken')).toHaveLength(0);
    expect((await groupState(stream))?.pending).toBe(100);
    await store.kill('SIGTERM');
    startStore(stream);
    await expectExact(stream, 'badtoken', sent);
  });

  it('rebuilds lost rows from what the stream still holds, then removes its group', async () => {
    const stream = uniqueName('readings');
    const sent = await publish(stream, 'rebuild', 2_000);
    startStore(stream);
    await expectExact(stream, 'rebuild', sent);
    // Rows lost from storage (deleted through the API, as an operator's mistake would).
    for (const id of sent.slice(0, 500)) {
      const response = await fetch(`http://127.0.0.1:${apiPort}/readings/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status).toBe(204);
    }
    expect(await storedIds('rebuild')).toHaveLength(1_500);
    const rebuild = startStore(stream, {}, rebuildEntry);
    expect(await rebuild.exited).toBe(0);
    expect(new Set(await storedIds('rebuild'))).toEqual(new Set(sent));
    expect(rebuild.events('rebuilt')[0]).toMatchObject({ inserted: 500, duplicates: 1_500 });
    for (const partition of partitionsOf(stream))
      expect((await readGroups(redis, partition)).map((g) => g.name)).toEqual(['store']);
  });

  it('with FAULT_RATE=0.1 on the API and on the store, still stores every reading exactly once', async () => {
    await api.kill('SIGTERM');
    await startApi({ FAULT_RATE: '0.1' });
    try {
      const stream = uniqueName('readings');
      const store = startStore(stream, { FAULT_RATE: '0.1', BATCH_SIZE: '100' });
      const sent = await publish(stream, 'faults', 5_000);
      await expectExact(stream, 'faults', sent);
      expect(store.events('handler_failed_retrying').length).toBeGreaterThan(0);
    } finally {
      await api.kill('SIGTERM');
      await startApi();
    }
  }, 60_000);

  it('stores once what the producer sent twice after losing XADD replies (Jepsen-style check)', async () => {
    const stream = uniqueName('readings');
    const proxy = await startTcpProxy(server.port);
    const acked = join(dir, `${stream.replaceAll(':', '-')}.csv`);
    try {
      const producer = startService(join(import.meta.dir, '../../producer/src/index.ts'), {
        REDIS_URL: proxy.url,
        READINGS_STREAM: stream,
        COUNT: '3000',
        RATE: '1500',
        DEVICES: '20',
        METRIC: 'lost-replies',
        CSV_FILE: acked,
        ...partitioned,
      });
      for (let i = 0; i < 3; i++) {
        await Bun.sleep(400);
        proxy.dropReplies(1);
        await waitFor(() => proxy.dropped > i, { what: `reply ${i + 1} dropped` });
      }
      expect(await producer.exited).toBe(0);
    } finally {
      proxy.stop();
    }
    const streamIds: string[] = [];
    for (const partition of partitionsOf(stream))
      streamIds.push(...(await streamReadings(redis, partition)).map((reading) => reading.id));
    // The lost replies made the producer send some readings twice...
    expect(streamIds.length).toBeGreaterThan(new Set(streamIds).size);
    startStore(stream);
    // ...and storage holds each reading the producer saw acknowledged exactly once: none lost,
    // none unexpected, none doubled.
    const acknowledged = (await Bun.file(acked).text())
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',')[0] as string);
    expect(new Set(acknowledged).size).toBe(3_000);
    await expectExact(stream, 'lost-replies', [...new Set(acknowledged)]);
  }, 60_000);
});

describe('consumer-store with several API instances on one PostgreSQL', () => {
  let postgres: PostgresServer;
  beforeAll(async () => {
    postgres = await startPostgresServer();
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  it('spreads batches over the instances and is exact when one is killed with -9 mid-run', async () => {
    const databaseUrl = await postgres.createDatabase('store_instances');
    const ports = [await freePort(), await freePort()];
    const apis = ports.map((port) =>
      startService(apiEntry, {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        API_TOKEN: TOKEN,
        LOG_LEVEL: 'warn',
        REDIS_URL: server.url,
      }),
    );
    services.push(...apis);
    for (const port of ports)
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/health`).then(
            (r) => r.status < 500,
            () => false,
          ),
        { what: 'API instance' },
      );
    const stream = uniqueName('readings');
    const bases = ports.map((port) => `http://127.0.0.1:${port}`);
    const batchesPosted = async (base: string) =>
      Number(
        /^api_http_requests_total\{method="POST",route="\/readings\/rows",status="200"\} (\d+)/m.exec(
          await (await fetch(`${base}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    startStore(stream, { API_URL: bases.join(','), BATCH_SIZE: '200' });
    const sent = await publish(stream, 'instances', 10_000);
    await waitFor(
      async () => (await batchesPosted(bases[0] as string)) > 0 && (await batchesPosted(bases[1] as string)) > 0,
      { what: 'batches on both instances' },
    );
    await (apis[0] as ServiceProcess).kill();
    sent.push(...(await publish(stream, 'instances', 10_000)));
    const survivor = bases[1] as string;
    const count = async () =>
      ((await (await fetch(`${survivor}/stats?metric=instances&deviceLimit=0`)).json()) as { count: number }).count;
    await waitFor(async () => (await count()) >= sent.length && (await groupState(stream))?.pending === 0, {
      what: 'all stored',
      timeoutMs: 30_000,
    });
    const exported = (await (await fetch(`${survivor}/readings/export?format=ndjson&metric=instances`)).text())
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { id: string }).id);
    expect(exported.length).toBe(sent.length);
    expect(new Set(exported)).toEqual(new Set(sent));
  }, 60_000);
});
