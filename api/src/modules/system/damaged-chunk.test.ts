import { afterAll, beforeAll, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from 'core';
import { createApp } from '../../app.ts';
import { openStore } from '../../storage/open.ts';
import type { ReadingsStore, StoredRow } from '../../storage/port.ts';
import { TEST_TOKEN } from '../../test-helpers.ts';

const DAY = 86_400_000;
const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

let dir: string;
let store: ReadingsStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'damaged-chunk-'));
  store = await openStore(join(dir, 'readings.db'));
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const reading = (deviceId: string, ts: number, value: number): StoredRow => ({
  id: Bun.randomUUIDv7('hex', ts),
  deviceId,
  metric: 'kwh',
  value,
  unit: 'kWh',
  ts,
  storedAt: ts + 1_000,
});

it('a compressed chunk damaged on disk is reported by name — 500 storage_damaged, /health degraded, /metrics counted — never read as other readings, and the rest goes on', async () => {
  const today = Math.floor(Date.now() / DAY) * DAY;
  const old = Array.from({ length: 200 }, (_, i) => reading('pump-1', today - 3 * DAY + i * 60_000, i));
  const elsewhere = Array.from({ length: 50 }, (_, i) => reading('pump-2', today - 3 * DAY + i * 60_000, i));
  const recent = reading('pump-1', today + 1_000, 7);
  await store.insert([...old, ...elsewhere]);
  await store.insert([recent]);
  expect((await store.compressReadingsBefore?.(today - DAY, 10_000))?.done).toBe(true);
  expect(await store.compressionTiers?.(today - DAY)).toMatchObject({
    rowReadings: 1,
    compressedReadings: 250,
    chunks: 2,
    waitingRows: 0,
  });

  // Damage pump-1's chunk the way a disk would: a byte of its body changed under the API.
  const raw = new Database(join(dir, 'readings.db'));
  const { chunk, body } = raw
    .query("SELECT chunk, body FROM reading_chunks WHERE device = (SELECT key FROM names WHERE name = 'pump-1')")
    .get() as { chunk: number; body: Uint8Array };
  const altered = new Uint8Array(body);
  altered[Math.floor(altered.length / 2)] = (altered[Math.floor(altered.length / 2)] as number) ^ 0x5a;
  raw.query('UPDATE reading_chunks SET body = ?, written = written + 1 WHERE chunk = ?').run(altered, chunk);
  raw.close();

  const app = createApp({
    store,
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: quiet,
  });
  const request = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init));

  const lost = await request(`/readings/${old[10]?.id}`);
  expect(lost.status).toBe(500);
  const answer = (await lost.json()) as { error: string; message: string };
  expect(answer.error).toBe('storage_damaged');
  expect(answer.message).toContain(`compressed chunk ${chunk} (device "pump-1", metric "kwh"`);
  expect(answer.message).toContain('restore the database from a backup');

  // Another device's chunk of the same day, today's rows and new writes are untouched.
  expect(await (await request(`/readings/${elsewhere[3]?.id}`)).json()).toMatchObject({ id: elsewhere[3]?.id });
  expect(await (await request(`/readings/${recent.id}`)).json()).toMatchObject({ id: recent.id, value: 7 });
  const fresh = reading('pump-3', today + 2_000, 1);
  const written = await request('/readings', {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...fresh, ts: new Date(fresh.ts).toISOString(), storedAt: undefined }),
  });
  expect(written.status).toBe(201);

  const health = (await (await request('/health')).json()) as { status: string; reasons: string[] };
  expect(health.status).toBe('degraded');
  expect(health.reasons.join('\n')).toContain(`database: compressed chunk ${chunk}`);
  expect(await (await request('/metrics')).text()).toContain('api_storage_damaged_total 1');
});
