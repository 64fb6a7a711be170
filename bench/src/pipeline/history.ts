/**
 * History at scale: N readings from 1,000 devices over 30 days written straight into storage
 * through the port (rollups with them, hours and days derived as the API's compaction would), then
 * the API on them —
 * /stats p50/p99 for 1 h, 24 h and 30 d windows, bytes per reading on disk, and the write
 * latency of 1,000-reading batches while 50 clients loop on whole-history /stats and 5 exports
 * stream (load from separate processes), and late readings spread over the 30 days while 10
 * clients loop on /stats.
 */
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEventId } from 'core';
import { freePort, startPostgresServer, startRedisServer } from 'core/testing';
import { openStore } from '../storage.ts';
import { fleetRows, spawnApi } from '../support.ts';
import { type Measurement, backendLabel, formatLatency, int, summarize } from './report.ts';
import type { Backend } from './stack.ts';

const DAY = 86_400_000;
const headers = { authorization: 'Bearer bench', 'content-type': 'application/json' };

export async function historyScenario(options: {
  readings: number;
  backend?: Backend;
  keepDir?: string;
  /** SQLite: every day but the last compressed into chunks before anything is measured. */
  compress?: boolean;
}): Promise<Measurement[]> {
  const { readings, keepDir } = options;
  if (keepDir && options.backend === 'postgres') throw new Error('--history-dir keeps a SQLite database only');
  const dir = keepDir ?? (await mkdtemp(join(tmpdir(), 'bench-history-')));
  if (keepDir) await mkdir(keepDir, { recursive: true });
  const redisServer = await startRedisServer({ cluster: false });
  const postgres = options.backend === 'postgres' ? await startPostgresServer({ fsync: true }) : undefined;
  const databaseUrl = postgres ? await postgres.createDatabase('bench_history') : join(dir, 'history.db');
  const label = `${int(readings)} readings, 1,000 devices, 30 days${backendLabel({ backend: options.backend })}`;
  const results: Measurement[] = [];
  try {
    // Generated straight into storage, oldest first, spread evenly over the 30 days — or kept
    // from an earlier run (its 30 days end when it was made).
    const kept = keepDir ? await readKept(dir, readings) : undefined;
    const now = kept?.now ?? Date.now();
    const start = now - 30 * DAY;
    const generating = performance.now();
    let generateSeconds = kept?.generateSeconds ?? 0;
    let compactSeconds = kept?.compactSeconds ?? 0;
    if (!kept) {
      const store = await openStore(databaseUrl);
      for (let n = 0; n < readings; n += 5_000) {
        await store.insert(
          fleetRows(n, Math.min(5_000, readings - n), (i) => start + Math.floor((i / readings) * 30 * DAY)),
        );
      }
      generateSeconds = (performance.now() - generating) / 1_000;
      const compacting = performance.now();
      // As the API would: hours and days, with the readings above the default threshold.
      while ((await store.compactRollups(now, 24, [50])) > 0);
      compactSeconds = (performance.now() - compacting) / 1_000;
      await store.close();
      if (keepDir)
        await Bun.write(join(dir, 'history.json'), JSON.stringify({ readings, now, generateSeconds, compactSeconds }));
    }
    // After a bulk load PostgreSQL's autovacuum analyzes the new tables soon anyway, and a
    // checkpoint writes out gigabytes of pages: done here, neither runs in the middle of the
    // measurements (autovacuum made 30-day /stats p95 329 ms).
    if (postgres) await settleAfterBulkLoad(databaseUrl);
    if (options.compress && !postgres) results.push(await compressHistory(databaseUrl, now, readings));
    const bytes = postgres ? await postgresBytes(databaseUrl) : await sqliteBytes(dir);
    results.push({
      scenario: 'history',
      name: `bytes per stored reading on disk (${label})`,
      result: `${int(bytes / readings)} bytes (${(bytes / 2 ** 30).toFixed(2)} GiB, rollups included; generated in ${generateSeconds.toFixed(0)} s, hours and days derived in ${compactSeconds.toFixed(0)} s)`,
      target: options.backend === 'postgres' ? undefined : '≤ 100',
      met: options.backend === 'postgres' ? undefined : bytes / readings <= 100,
    });

    // Retention off: the readings stay what was generated, whenever a kept database is used again
    // (retention has its own bench).
    const api = await spawnApi({
      port: await freePort(),
      databaseUrl,
      token: 'bench',
      env: {
        REDIS_URL: redisServer.url,
        DATABASE_STATEMENT_TIMEOUT_MS: '120000',
        RETAIN_RAW_DAYS: '0',
        ...(options.compress ? { COMPRESS_AFTER_HOURS: '24' } : {}),
      },
    });
    try {
      // Enough samples that p99 is not simply the slowest one; the first answer of each window
      // (pages read from disk into the cache the first time) is not counted.
      for (const [name, windowMs, samples] of [
        ['1 h', 3_600_000, 200],
        ['24 h', DAY, 100],
        ['30 d', 30 * DAY, 100],
      ] as const) {
        const times: number[] = [];
        const to = new Date(now).toISOString();
        const from = new Date(now - windowMs).toISOString();
        for (let i = -1; i < samples; i++) {
          const t0 = performance.now();
          const response = await fetch(`${api.url}/stats?from=${from}&to=${to}`);
          await response.arrayBuffer();
          if (!response.ok) throw new Error(`/stats ${name}: ${response.status}`);
          if (i >= 0) times.push(Math.round(performance.now() - t0));
        }
        const summary = summarize(times);
        results.push({
          scenario: 'history',
          name: `GET /stats over ${name} (${label})`,
          result: formatLatency(summary),
          target: 'p99 ≤ 50 ms',
          met: summary.p99 <= 50,
        });
      }

      // The write path warmed first, not counted: the API's first batches run in code the JIT has
      // not compiled yet (the very first took 100–150 ms where the rest took 30).
      await timedWrites(api.url, 2_000);
      // Writes while 50 clients loop on whole-history /stats and 5 exports stream, each its own
      // process: clients that wait as Retry-After says when refused, then clients that ask again
      // at once (as many refusals as the API lets them have, on the same two cores).
      for (const mode of ['polite', 'impolite'] as const) {
        const load = [
          Bun.spawn(['bun', join(import.meta.dir, '../http-load.ts'), `${api.url}/stats`, '50', '45', mode], {
            stdout: 'pipe',
          }),
          Bun.spawn(
            [
              'bun',
              join(import.meta.dir, '../http-load.ts'),
              `${api.url}/readings/export?format=ndjson`,
              '5',
              '45',
              mode,
            ],
            { stdout: 'pipe' },
          ),
        ];
        await Bun.sleep(2_000);
        const writes = await timedWrites(api.url, 40_000);
        const [stats, exports] = await Promise.all(
          load.map(
            async (child) =>
              JSON.parse(await new Response(child.stdout).text()) as {
                requests: number;
                answered: number;
                cut: number;
                errors: number;
              },
          ),
        );
        const clients =
          mode === 'polite' ? 'clients that wait as Retry-After says' : 'clients that ask again at once when refused';
        const summary = summarize(writes);
        results.push({
          scenario: 'history',
          name: `POST /readings/batch (1,000) every 200 ms while 50 clients loop on whole-history /stats and 5 exports stream, ${clients} (${label})`,
          result: `${formatLatency(summary)}; /stats answered ${stats?.answered} of ${stats?.requests} (${stats?.errors} refused: 429/503), exports streamed ${exports?.answered} in full and ${exports?.cut} until the end of the load, of ${exports?.requests}`,
          target: 'p99 ≤ 100 ms',
          met: summary.p99 <= 100,
        });
      }
      results.push(...(await backfillUnderReads(api.url, now, postgres ? undefined : databaseUrl, label)));
    } finally {
      await api.stop();
    }
    return results;
  } finally {
    await redisServer.stop();
    await postgres?.stop();
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  }
}

const BACKFILL_MS = 30_000;

/**
 * Late readings: 1,000-reading batches, each spread over the 30 days, posted one after another
 * for BACKFILL_MS while 10 clients loop on /stats (its default: all of history) — devices that
 * buffered while offline, the normal case. Each batch dirties hours all over the window and
 * pages all over the file: writes' and /stats's latencies, and on SQLite the WAL's largest size
 * (sampled every 50 ms) and the bytes per reading just after, WAL included.
 */
async function backfillUnderReads(
  url: string,
  now: number,
  sqlitePath: string | undefined,
  label: string,
): Promise<Measurement[]> {
  const stats = Bun.spawn(
    ['bun', join(import.meta.dir, '../http-load.ts'), `${url}/stats`, '10', String(BACKFILL_MS / 1_000 + 2), 'polite'],
    {
      stdout: 'pipe',
    },
  );
  let largestWal = 0;
  const walSampler = setInterval(() => {
    if (sqlitePath) largestWal = Math.max(largestWal, fileBytes(`${sqlitePath}-wal`));
  }, 50);
  const writes: number[] = [];
  try {
    await Bun.sleep(1_000);
    const until = performance.now() + BACKFILL_MS;
    for (let batch = 0; performance.now() < until; batch++) {
      const readings = Array.from({ length: 1_000 }, (_, i) => {
        const ts = now - Math.floor(Math.random() * 30 * DAY);
        return {
          id: newEventId(ts),
          deviceId: `device-${String(i).padStart(4, '0')}`,
          metric: 'kwh',
          value: (batch + i) % 91,
          unit: 'kWh',
          ts: new Date(ts).toISOString(),
        };
      });
      const t0 = performance.now();
      const response = await fetch(`${url}/readings/batch`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ readings }),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`POST /readings/batch: ${response.status}`);
      writes.push(Math.round(performance.now() - t0));
    }
  } finally {
    clearInterval(walSampler);
  }
  const load = JSON.parse(await new Response(stats.stdout).text()) as {
    answered: number;
    requests: number;
    p50Ms: number;
    p99Ms: number;
  };
  const summary = summarize(writes);
  const wal = sqlitePath ? `; WAL at most ${(largestWal / 2 ** 20).toFixed(0)} MiB (target ≤ 64)` : '';
  return [
    {
      scenario: 'history',
      name: `late readings: POST /readings/batch (1,000 spread over 30 days) back to back for ${BACKFILL_MS / 1_000} s while 10 clients loop on /stats (${label})`,
      result: `${formatLatency(summary)}, ${int(writes.length * 1_000)} readings${wal}`,
      target: 'p99 ≤ 500 ms',
      met: summary.p99 <= 500 && (!sqlitePath || largestWal <= 64 * 2 ** 20),
    },
    {
      scenario: 'history',
      name: `GET /stats (all of history) while late readings arrive (${label})`,
      result: `p50 ${int(load.p50Ms)} ms, p99 ${int(load.p99Ms)} ms, ${load.answered} answered of ${load.requests}`,
      target: 'p50 ≤ 500 ms',
      met: load.p50Ms <= 500,
    },
  ];
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Batches of 1,000 readings, one every 200 ms for `ms`: each one's time to be stored. */
async function timedWrites(url: string, ms: number): Promise<number[]> {
  const writes: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const ts = Date.now();
    const body = JSON.stringify({
      readings: Array.from({ length: 1_000 }, (_, i) => ({
        id: newEventId(ts),
        deviceId: `device-${String(i).padStart(4, '0')}`,
        metric: 'kwh',
        value: i % 91,
        unit: 'kWh',
        ts: new Date(ts).toISOString(),
      })),
    });
    const t0 = performance.now();
    const response = await fetch(`${url}/readings/batch`, { method: 'POST', headers, body });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`POST /readings/batch: ${response.status}`);
    writes.push(Math.round(performance.now() - t0));
    await Bun.sleep(200);
  }
  return writes;
}

/** What an earlier run with the same readings left in `dir`, if it did. */
async function readKept(
  dir: string,
  readings: number,
): Promise<{ now: number; generateSeconds: number; compactSeconds: number } | undefined> {
  const file = Bun.file(join(dir, 'history.json'));
  if (!(await file.exists())) return undefined;
  const kept = (await file.json()) as {
    readings: number;
    now: number;
    generateSeconds: number;
    compactSeconds: number;
  };
  if (kept.readings !== readings)
    throw new Error(`--history-dir ${dir} holds ${kept.readings} readings, not ${readings}: use another directory`);
  return kept;
}

/**
 * Every day before the last moved into compressed chunks, as the API's compactor does, then the
 * freed pages given back to the file system: how long it took, in CPU a reading.
 */
async function compressHistory(databaseUrl: string, now: number, readings: number): Promise<Measurement> {
  const store = await openStore(databaseUrl);
  const started = performance.now();
  const cpu = process.cpuUsage();
  let moved = 0;
  try {
    for (let done = false; !done; ) {
      const step = await (store.compressReadingsBefore as NonNullable<typeof store.compressReadingsBefore>)(
        now - DAY,
        50_000,
      );
      moved += step.moved;
      done = step.done;
    }
    while (await store.reclaimSpace());
  } finally {
    await store.close();
  }
  const seconds = (performance.now() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  return {
    scenario: 'history',
    name: `compression of every day but the last (${int(readings)} readings)`,
    result: `${int(moved)} readings moved in ${seconds.toFixed(1)} s, ${((used.user + used.system) / Math.max(1, moved)).toFixed(2)} µs of CPU a reading (this process and its store thread)`,
  };
}

async function sqliteBytes(dir: string): Promise<number> {
  // The write-ahead log written into the file first: what stays on disk.
  const { Database } = await import('bun:sqlite');
  // A store just closed can hold its connections a moment longer (statements finalized when
  // collected): its WAL, busy, would be counted whole. Asked again until it is emptied (or 10 s).
  const db = new Database(join(dir, 'history.db'));
  for (let tries = 0; tries < 50; tries++) {
    const { busy } = db.query('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    if (busy === 0) break;
    await Bun.sleep(200);
  }
  db.close();
  let total = 0;
  // A file listed can be gone when asked (the -shm SQLite removes as the last connection closes).
  for (const name of await readdir(dir)) total += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
  return total;
}

async function settleAfterBulkLoad(databaseUrl: string): Promise<void> {
  const { SQL } = await import('bun');
  const sql = new SQL(databaseUrl);
  try {
    await sql`VACUUM ANALYZE`;
    await sql`CHECKPOINT`;
  } finally {
    await sql.close();
  }
}

async function postgresBytes(databaseUrl: string): Promise<number> {
  const { SQL } = await import('bun');
  const sql = new SQL(databaseUrl);
  try {
    const [{ bytes }] = await sql`
      SELECT (coalesce(sum(pg_total_relation_size(inhrelid)), 0) + pg_total_relation_size('reading_ids'))::float8 AS bytes
      FROM pg_inherits WHERE inhparent = 'readings'::regclass`;
    return bytes as number;
  } finally {
    await sql.close();
  }
}
