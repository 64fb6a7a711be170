import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from 'core';
import { createApp } from '../app.ts';
import { TEST_TOKEN } from '../test-helpers.ts';
import { type ReadingsStore, StorageBusyError } from './port.ts';
import { gateReads } from './read-gate.ts';
import { openThreadedSqliteStore } from './sqlite/threaded-store.ts';

let directory: string;
let store: ReadingsStore;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'read-gate-'));
  // A real store whose answers come from another thread: every call below is in flight at once.
  store = await openThreadedSqliteStore(join(directory, 'telemetry.db'));
  const now = Date.now();
  await store.insert(
    Array.from({ length: 100 }, (_, i) => ({
      id: `r-${i}`,
      deviceId: `device-${i % 5}`,
      metric: 'kwh',
      value: i,
      unit: 'kWh',
      ts: now - i,
      storedAt: now,
    })),
  );
});
afterAll(async () => {
  await store.close();
  await rm(directory, { recursive: true, force: true });
});

describe('long reads, bounded', () => {
  it('runs `running` at once, queues `waiting`, refuses the rest after a pause; the queued ones all answer', async () => {
    const gated = gateReads(store, { running: 1, waiting: 2 });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => gated.count({})));
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
    ]);
    expect(outcomes.slice(0, 3).map((outcome) => (outcome as PromiseFulfilledResult<number>).value)).toEqual([
      100, 100, 100,
    ]);
    expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(StorageBusyError);
    // A refusal is told after a pause, so a client that asks again at once cannot ask thousands
    // of times a second (a lower bound: a busy machine only makes it longer).
    const slow = gateReads(
      { ...store, count: () => Bun.sleep(1_000).then(() => 0) },
      { running: 1, waiting: 0, refusalDelayMs: 200 },
    );
    const running = slow.count({});
    const refusedAt = performance.now();
    await expect(slow.count({})).rejects.toBeInstanceOf(StorageBusyError);
    expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(195);
    await running;
    // Turns are given back: once they are done, reads pass again, and writes never waited.
    expect(await gated.count({ deviceId: 'device-1' })).toBe(20);
    expect(await gated.insert([])).toEqual({ inserted: 0, duplicates: 0, conflicts: [] });
  });

  it('answers 429 with Retry-After over HTTP, for statistics and an export alike, never a cut-short file', async () => {
    const app = createApp({
      store: gateReads(store, { running: 1, waiting: 0 }),
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    });
    const get = (path: string) => app.handle(new Request(`http://localhost${path}`));
    // Two different statistics: identical ones asked at once share one read (shared-answers.ts).
    const answers = await Promise.all([
      get('/stats'),
      get('/stats?threshold=60'),
      get('/readings/export?format=ndjson'),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 429, 429]);
    expect(answers[1]?.headers.get('retry-after')).toBe('1');
    expect(await answers[1]?.json()).toMatchObject({ error: 'storage_busy' });
    // The dashboard's poll never waits behind long reads, and is one query per change however
    // many ask: a crowd of dashboards is never refused, even while statistics fill the gate.
    const [busy, ...latest] = await Promise.all([
      get('/stats'),
      ...Array.from({ length: 20 }, () => get('/readings/latest?limit=10')),
    ]);
    expect(busy?.status).toBe(200);
    expect(latest.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect((await latest[0]?.json()) as unknown[]).toHaveLength(10);
    // One at a time, everything answers in full.
    const exported = await (await get('/readings/export?format=ndjson')).text();
    expect(exported.trim().split('\n')).toHaveLength(100);
  });
});
