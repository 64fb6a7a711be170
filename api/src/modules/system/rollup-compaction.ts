import type { Logger } from 'core';
import { startPeriodic } from '../../periodic.ts';
import type { RollupMaintenance } from '../../storage/port.ts';

/** Hours per call: one short transaction, so that batches interleave with a long catch-up. */
const HOURS_PER_STEP = 24;

/**
 * Derives hour and day rollups from the minutes of every hour that changed and has ended (see
 * storage/rollups.ts), at start and every `intervalMs`, with their readings above `thresholds()`
 * (the thresholds /stats uses unless asked for another). Until then /stats reads those hours at
 * minute level, so this only makes long windows fast; it never changes an answer. Every API
 * instance runs it; the store makes sure two never derive the same hour.
 */
export function startRollupCompaction(options: {
  store: RollupMaintenance;
  logger: Logger;
  intervalMs: number;
  thresholds: () => Promise<number[]>;
}) {
  const { store, logger, intervalMs, thresholds } = options;
  let failing = false;
  return startPeriodic(async (stopping) => {
    try {
      const above = await thresholds();
      while (!stopping() && (await store.compactRollups(Date.now(), HOURS_PER_STEP, above)) === HOURS_PER_STEP);
      if (failing) logger.info('rollup_compaction_recovered', {});
      failing = false;
    } catch (error) {
      // Told once per outage: the database's own state is on /health.
      if (!failing) logger.warn('rollup_compaction_failed', { error: (error as Error).message });
      failing = true;
    }
  }, intervalMs);
}
