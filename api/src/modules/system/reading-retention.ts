import type { Logger } from 'core';
import { startPeriodic } from '../../periodic.ts';
import type { RollupMaintenance, ReadingRetention as RetentionCapability } from '../../storage/port.ts';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Readings per step: a short transaction, so inserts interleave with retention. */
const STEP = 5_000;

export interface RetentionStatus {
  /** RETAIN_RAW_DAYS, or null: every reading is kept. */
  retainRawDays: number | null;
  /** RETAIN_ROLLUP_DAYS, or null: rollups are kept forever. */
  retainRollupDays: number | null;
  runs: number;
  removed: number;
  rollupsRemoved: number;
  lastRun: { at: string; removed: number; tookMs: number; error?: string } | null;
}

/**
 * Raw-reading retention (RETAIN_RAW_DAYS): readings measured longer ago than that are removed at
 * start and then every `intervalMs`, in steps of 5,000 (SQLite: rows, oldest first, then the
 * freed pages given back to the file system; PostgreSQL: whole days' partitions once their ids
 * are gone, and row by row within the day the bound falls in). Every API instance runs it;
 * a step that finds nothing removes nothing. Unset: nothing is removed. The bound is a whole
 * minute, so a minute's readings go together and its rollup is never half of what is left.
 * Rollups stay (their own bound, RETAIN_ROLLUP_DAYS, is whole days, and unset keeps them).
 */
export function startReadingRetention(options: {
  store: RetentionCapability & Pick<RollupMaintenance, 'removeRollupsBefore'>;
  retainDays: number | undefined;
  retainRollupDays?: number;
  logger: Logger;
  intervalMs?: number;
}) {
  const { store, retainDays, retainRollupDays, logger, intervalMs = 60 * 60 * 1_000 } = options;
  const status: RetentionStatus = {
    retainRawDays: retainDays ?? null,
    retainRollupDays: retainRollupDays ?? null,
    runs: 0,
    removed: 0,
    rollupsRemoved: 0,
    lastRun: null,
  };
  const periodic = startPeriodic(async (stopping) => {
    if (retainDays === undefined && retainRollupDays === undefined) return;
    const started = performance.now();
    let removed = 0;
    let error: string | undefined;
    try {
      if (retainDays !== undefined) {
        const before = Math.floor((Date.now() - retainDays * DAY_MS) / MINUTE_MS) * MINUTE_MS;
        for (let done = false; !done && !stopping(); ) {
          const step = await store.removeReadingsBefore(before, STEP);
          removed += step.removed;
          done = step.done;
        }
      }
      if (retainRollupDays !== undefined) {
        const before = Math.floor((Date.now() - retainRollupDays * DAY_MS) / DAY_MS) * DAY_MS;
        for (let step = STEP; step === STEP && !stopping(); ) {
          step = await store.removeRollupsBefore(before, STEP);
          status.rollupsRemoved += step;
        }
      }
      while (!stopping() && (await store.reclaimSpace()));
    } catch (failure) {
      error = (failure as Error).message;
      logger.warn('retention_failed', { error, removed });
    }
    status.runs += 1;
    status.removed += removed;
    status.lastRun = {
      at: new Date().toISOString(),
      removed,
      tookMs: Math.round(performance.now() - started),
      ...(error ? { error } : {}),
    };
    if (removed > 0) logger.info('retention', { removed, tookMs: status.lastRun.tookMs });
  }, intervalMs);
  return { status: (): RetentionStatus => ({ ...status }), stop: periodic.stop };
}

export type ReadingRetention = ReturnType<typeof startReadingRetention>;
