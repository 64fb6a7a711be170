/**
 * `bun run --cwd api rollups:rebuild`: rolls every minute that still has raw readings up again
 * from them, then derives hours and days (see storage/rollups.ts) — after restoring a backup
 * made without rollups, or if they were ever found wrong. Minutes whose readings retention
 * removed keep their rollups. Safe while the API runs (a day per transaction), but on SQLite it
 * holds the writer for each day's transaction: run it at a quiet time.
 */
import { configOrExit, createLogger } from 'core';
import { loadApiConfig } from './config.ts';
import { FALLBACK_THRESHOLD } from './modules/stats/index.ts';
import { openStore } from './storage/open.ts';

const logger = createLogger({ service: 'rollups-rebuild' });
const config = await configOrExit('rollups-rebuild', () => loadApiConfig(process.env));
const store = await openStore(config.databaseUrl, { statementTimeoutMs: 86_400_000 }, logger);
const started = performance.now();
try {
  // Counts above the default threshold are worked out with the hours; another threshold (an
  // alerting rule's) opens the minutes it needs, exact but slower, until its hours change again.
  const { minutes } = await store.rebuildRollups([FALLBACK_THRESHOLD]);
  logger.info('rollups_rebuilt', {
    minutes,
    tookMs: Math.round(performance.now() - started),
    database: store.location,
  });
} finally {
  await store.close();
}
