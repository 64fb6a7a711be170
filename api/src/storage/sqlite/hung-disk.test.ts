/**
 * Faults of a real ext4 filesystem this test loop-mounts (root only: CI runs as root).
 *
 * A frozen disk under a running API. The API runs as its own process
 * on a small ext4 image this test loop-mounts and freezes with fsfreeze: /health keeps answering
 * and says down with the reason within seconds, writes answer 503 with Retry-After within their
 * budget instead of hanging, and once the disk thaws the API writes again by itself with nothing
 * acknowledged lost and nothing doubled.
 *
 * A process writing to a frozen filesystem sleeps uninterruptibly: it cannot even be killed. So
 * the test thaws the disk in `finally` from its own process (which never touches the frozen
 * disk), and a separate watchdog process thaws it after a minute should this one die first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, newEventId } from 'core';
import { type RedisServer, type ServiceProcess, startRedisServer, startService, waitFor } from 'core/testing';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, readingBody } from '../../test-helpers.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

const canFreeze =
  process.getuid?.() === 0 &&
  Bun.which('fsfreeze') !== null &&
  Bun.which('mkfs.ext4') !== null &&
  Bun.which('chattr') !== null;
const entry = join(import.meta.dir, '../../index.ts');
let dir: string;
let mountPoint: string;
let redis: RedisServer;
let api: ServiceProcess | undefined;

beforeAll(async () => {
  if (!canFreeze) return;
  dir = await mkdtemp(join(tmpdir(), 'hung-disk-'));
  mountPoint = join(dir, 'mnt');
  await mkdir(mountPoint);
  await Bun.$`truncate -s 64M ${join(dir, 'disk.img')}`.quiet();
  await Bun.$`mkfs.ext4 -q -F ${join(dir, 'disk.img')}`.quiet();
  await Bun.$`mount -o loop ${join(dir, 'disk.img')} ${mountPoint}`.quiet();
  redis = await startRedisServer();
});
afterAll(async () => {
  if (!canFreeze) return;
  await thaw();
  await api?.kill();
  await redis?.stop();
  await Bun.$`umount ${mountPoint}`.nothrow().quiet();
  await rm(dir, { recursive: true, force: true });
});

async function thaw() {
  await Bun.$`fsfreeze -u ${mountPoint}`.nothrow().quiet();
}

/** A fetch that gives up after `ms`: a hanging API fails the test instead of holding it. */
async function within(ms: number, url: string, init: RequestInit = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

describe.skipIf(!canFreeze)('SQLite on a frozen disk', () => {
  it('/health answers down, writes answer 503 in their budget; once thawed, writes resume, nothing lost or doubled', async () => {
    api = startService(entry, {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      API_TOKEN: TEST_TOKEN,
      DATABASE_URL: join(mountPoint, 'telemetry.db'),
      DATABASE_STATEMENT_TIMEOUT_MS: '1000',
      EXPECTED_WORKERS: '',
    });
    const listening = await waitFor(() => api?.events('listening')[0], {
      what: 'the API listening',
      timeoutMs: 15_000,
    });
    const base = String(listening.url);
    const batch = (count: number) => {
      const now = Date.now();
      return Array.from({ length: count }, (_, i) => ({
        id: newEventId(now),
        deviceId: `device-${i % 10}`,
        metric: 'kwh',
        value: i,
        unit: 'kWh',
        ts: new Date(now).toISOString(),
      }));
    };
    const post = (readings: unknown[]) =>
      within(5_000, `${base}/readings/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ readings }),
      });
    const health = () => within(2_000, `${base}/health`);

    const before = batch(500);
    expect((await post(before)).body.inserted).toBe(500);

    // Thaws the disk after a minute even if this process dies meanwhile.
    const watchdog = Bun.spawn(['sh', '-c', `sleep 60; fsfreeze -u '${mountPoint}'`], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const frozen = batch(500);
    try {
      await Bun.$`fsfreeze -f ${mountPoint}`.quiet();
      const down = await waitFor(
        async () => {
          const current = await health();
          return current.body.checks.database.status === 'down' && current;
        },
        { what: '/health down on the frozen disk', timeoutMs: 5_000, intervalMs: 100 },
      );
      expect(down.status).toBe(503);
      expect(down.body.checks.database.error).toMatch(/hung or overloaded disk|within/);

      // A write: refused within its budget, never hanging, never a 500.
      const refused = await post(frozen);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body.error).toBe('storage_unavailable');
      // /health keeps answering while the writer thread sleeps on the disk, and so do the short
      // reads (the dashboard's latest readings) and /metrics: a 503 or what they have, not a hang.
      expect((await health()).body.checks.database.status).toBe('down');
      expect([200, 503]).toContain(
        (await fetch(`${base}/readings/latest`, { signal: AbortSignal.timeout(5_000) })).status,
      );
      expect((await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    } finally {
      await thaw();
      watchdog.kill();
    }

    // Thawed: ok again by itself, and the refused batch goes in once when sent again.
    await waitFor(async () => (await health()).body.checks.database.status === 'ok', {
      what: '/health ok after the thaw',
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const resent = await waitFor(
      async () => {
        const answer = await post(frozen);
        return answer.status === 200 && answer;
      },
      { what: 'the refused batch stored', timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(resent.body.inserted + resent.body.duplicates).toBe(500);
    expect(resent.body.conflicts).toBe(0);
    const stored = await within(5_000, `${base}/readings?limit=1000`);
    const ids = new Set(stored.body.readings.map((reading: { id: string }) => reading.id));
    expect(stored.body.readings.length).toBe(1_000);
    for (const reading of [...before, ...frozen]) expect(ids.has(reading.id)).toBe(true);
  }, 60_000);
});

describe.skipIf(!canFreeze)('SQLite with its write-ahead log made immutable (read-only) under the API', () => {
  it('answers 503 and /health down with the reason, then writes again by itself once the file is writable', async () => {
    const store = await openThreadedSqliteStore(join(mountPoint, 'immutable.db'), { probeIntervalMs: 200 });
    const app = createApp({
      store,
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    });
    const post = (body: unknown) =>
      app.handle(
        new Request('http://localhost/readings/batch', {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      );
    const health = async () =>
      (await (await app.handle(new Request('http://localhost/health'))).json()) as {
        status: string;
        reasons: string[];
      };
    const wal = join(mountPoint, 'immutable.db-wal');
    try {
      const first = readingBody({ ts: new Date().toISOString() });
      expect((await post({ readings: [first] })).status).toBe(200);
      await Bun.$`chattr +i ${wal}`.quiet();
      const second = readingBody({ ts: new Date().toISOString() });
      const refused = await post({ readings: [second] });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      const down = await waitFor(
        async () => {
          const current = await health();
          return current.status === 'down' && current;
        },
        { what: '/health down', timeoutMs: 5_000 },
      );
      expect(down.reasons.join(' ')).toContain('SQLITE_IOERR');
      await Bun.$`chattr -i ${wal}`.quiet();
      // Writable again: a fresh connection, no restart; the refused reading goes in when resent.
      await waitFor(async () => (await post({ readings: [second] })).status === 200, {
        what: 'writes again',
        timeoutMs: 10_000,
        intervalMs: 200,
      });
      await waitFor(async () => (await health()).status === 'ok', { what: '/health ok', timeoutMs: 5_000 });
      expect(await store.count({})).toBe(2);
    } finally {
      await Bun.$`chattr -i ${wal}`.nothrow().quiet();
      await store.close();
    }
  });
});
