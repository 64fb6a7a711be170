/**
 * `bun run --cwd bench retention [--backend sqlite|postgres] [--readings N]`: one retention pass
 * over a day of raw readings (N, default 1,000,000, from 1,000 devices, measured 40 days ago)
 * while a writer stores new readings in batches of 5,000 as fast as it can, through the API's
 * storage (SQLite on its threads, or a PostgreSQL server of the run's own): how long the pass
 * takes, and the write rate during it against the rate just before.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from 'core';
import { startPostgresServer } from 'core/testing';
import { startReadingRetention } from 'api/src/modules/system/reading-retention.ts';
import { openStore } from './storage.ts';
import { fleetRows } from './support.ts';

const { values } = parseArgs({
  options: { backend: { type: 'string', default: 'sqlite' }, readings: { type: 'string', default: '1000000' } },
});
const total = Number(values.readings);
if (!Number.isInteger(total) || total < 5_000 || !['sqlite', 'postgres'].includes(values.backend as string)) {
  console.error('retention: --readings must be an integer ≥ 5,000 and --backend sqlite or postgres');
  process.exit(2);
}
const DAY = 86_400_000;
const dir = await mkdtemp(join(tmpdir(), 'bench-retention-'));
const postgres = values.backend === 'postgres' ? await startPostgresServer({ fsync: true }) : undefined;
const store = await openStore(postgres ? await postgres.createDatabase('retention') : join(dir, 'retention.db'));
try {
  const dayStart = Math.floor((Date.now() - 40 * DAY) / DAY) * DAY;
  for (let n = 0; n < total; n += 5_000)
    await store.insert(fleetRows(n, 5_000, (i) => dayStart + Math.floor((i / total) * (DAY - 1)), Date.now()));
  /** Writes for `ms` (or until `until` resolves), returns rows/s. */
  const writeFor = async (stop: Promise<unknown>) => {
    let stopped = false;
    void stop.then(() => (stopped = true));
    const started = performance.now();
    let rows = 0;
    while (!stopped) {
      await store.insert(fleetRows(0, 5_000, () => Date.now()));
      rows += 5_000;
    }
    return rows / ((performance.now() - started) / 1_000);
  };
  const baseline = await writeFor(Bun.sleep(5_000));
  const retention = startReadingRetention({
    store,
    retainDays: 30,
    logger: createLogger({ service: 'bench', level: 'error', write: () => {} }),
  });
  const passDone = (async () => {
    while (retention.status().runs === 0) await Bun.sleep(20);
  })();
  const during = await writeFor(passDone);
  const { lastRun } = retention.status();
  await retention.stop();
  console.log(
    `| ${values.backend}: one retention pass over a day of ${total.toLocaleString()} readings | ${((lastRun?.tookMs ?? 0) / 1_000).toFixed(1)} s, ${lastRun?.removed.toLocaleString()} removed${lastRun?.error ? ` (error: ${lastRun.error})` : ''} |`,
  );
  console.log(
    `| ${values.backend}: writes in batches of 5,000, before / during the pass | ${Math.round(baseline).toLocaleString()} / ${Math.round(during).toLocaleString()} rows/s |`,
  );
} finally {
  await store.close();
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
}
