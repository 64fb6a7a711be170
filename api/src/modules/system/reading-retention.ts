import type { Logger } from 'core';
import { startPeriodic } from '../../periodic.ts';
import type { ReadingsStore } from '../../storage/port.ts';

const DAY_MS = 86_400_000;
/** Readings per step: a short transaction, so inserts interleave with retention. */
const STEP = 5_000;

export interface RetentionStatus {
  /** RETAIN_RAW_DAYS, or null: every reading is kept. */
  retainRawDays: number | null;
  runs: number;
  removed: number;
  lastRun: { at: string; removed: number; tookMs: number; error?: string } | null;
}

/**
 * Raw-reading retention (RETAIN_RAW_DAYS): readings measured longer ago than that are removed at
 * start and then every `intervalMs`, in steps of 5,000 (SQLite: rows, oldest first, then the
 * freed pages given back to the file system; PostgreSQL: whole days' partitions once their ids
 * are gone, and row by row within the day the bound falls in). Every API instance runs it;
 * a step that finds nothing removes nothing. Unset: nothing is removed.
 */
export function startReadingRetention(options: { store: ReadingsStore; retainDays: number | undefined; logger: Logger; intervalMs?: number }) {
  const { store, retainDays, logger, intervalMs = 60 * 60 * 1_000 } = options;
  const status: RetentionStatus = { retainRawDays: retainDays ?? null, runs: 0, removed: 0, lastRun: null };
  const periodic = startPeriodic(async (stopping) => {
    if (retainDays === undefined) return;
    const started = performance.now();
    const before = Date.now() - retainDays * DAY_MS;
    let removed = 0;
    let error: string | undefined;
    try {
      for (let done = false; !done && !stopping(); ) {
        const step = await store.removeReadingsBefore(before, STEP);
        removed += step.removed;
        done = step.done;
      }
      while (!stopping() && (await store.reclaimSpace()));
    } catch (failure) {
      error = (failure as Error).message;
      logger.warn('retention_failed', { error, removed });
    }
    status.runs += 1;
    status.removed += removed;
    status.lastRun = { at: new Date().toISOString(), removed, tookMs: Math.round(performance.now() - started), ...(error ? { error } : {}) };
    if (removed > 0) logger.info('retention', { removed, before: new Date(before).toISOString(), tookMs: status.lastRun.tookMs });
  }, intervalMs);
  return { status: (): RetentionStatus => ({ ...status }), stop: periodic.stop };
}

export type ReadingRetention = ReturnType<typeof startReadingRetention>;
