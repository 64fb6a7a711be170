import type { Logger } from 'core';
import { startPeriodic } from '../../periodic.ts';
import type { CompressionTiers, ReadingCompression, ReadingRetention } from '../../storage/port.ts';

const HOUR_MS = 3_600_000;
/** COMPRESS_AFTER_HOURS unset: yesterday's readings and older are compressed. */
export const DEFAULT_COMPRESS_AFTER_HOURS = 24;
/** Readings per step, one transaction: inserts wait for a step, not for a pass. */
const STEP = 5_000;

export interface CompressionStatus {
  /** The hours after which readings are compressed, or null: every reading stays a row. */
  compressAfterHours: number | null;
  runs: number;
  /** Readings moved from rows into chunks, since start. */
  moved: number;
  lastRun: { at: string; moved: number; tookMs: number; error?: string } | null;
  /** What each tier held at the end of the last pass that finished (null before one). */
  tiers: CompressionTiers | null;
}

/**
 * Compression of cold readings (COMPRESS_AFTER_HOURS, 24 unless set; 0 turns it off): the rows of
 * whole (UTC) days measured longer ago than that move into compressed chunks (see storage/sqlite/chunk-writes.ts) at start
 * and then every `intervalMs`, in steps of about 5,000 readings between the writes, then the
 * freed pages given back to the file system. Every API
 * instance may run it; a step that finds nothing moves nothing. A backend without the capability
 * (PostgreSQL, so far) keeps every reading as a row.
 */
export function startReadingCompression(options: {
  store: Partial<ReadingCompression> & Pick<ReadingRetention, 'reclaimSpace'>;
  /** COMPRESS_AFTER_HOURS: unset, DEFAULT_COMPRESS_AFTER_HOURS; 0, off. */
  compressAfterHours: number | undefined;
  logger: Logger;
  intervalMs?: number;
}) {
  const { store, logger, intervalMs = 10 * 60 * 1_000 } = options;
  const compress = store.compressReadingsBefore?.bind(store);
  const tiersOf = store.compressionTiers?.bind(store);
  const afterHours = options.compressAfterHours ?? DEFAULT_COMPRESS_AFTER_HOURS;
  const on = compress !== undefined && afterHours > 0;
  const status: CompressionStatus = {
    compressAfterHours: on ? afterHours : null,
    runs: 0,
    moved: 0,
    lastRun: null,
    tiers: null,
  };
  if ((options.compressAfterHours ?? 0) > 0 && !compress)
    logger.warn('compression_unavailable', {
      message: 'COMPRESS_AFTER_HOURS is set, but this backend keeps every reading as a row (SQLite compresses)',
    });
  const periodic = startPeriodic(async (stopping) => {
    if (!on || !compress) return;
    const started = performance.now();
    let moved = 0;
    let error: string | undefined;
    const before = Date.now() - afterHours * HOUR_MS;
    try {
      for (let done = false; !done && !stopping(); ) {
        const step = await compress(before, STEP);
        moved += step.moved;
        done = step.done;
      }
      // The rows' pages, freed, given back to the file system (SQLite), as retention does.
      if (moved > 0) while (!stopping() && (await store.reclaimSpace()));
      status.tiers = (await tiersOf?.(before)) ?? null;
    } catch (failure) {
      error = (failure as Error).message;
      logger.warn('compression_failed', { error, moved });
    }
    status.runs += 1;
    status.moved += moved;
    status.lastRun = {
      at: new Date().toISOString(),
      moved,
      tookMs: Math.round(performance.now() - started),
      ...(error ? { error } : {}),
    };
    if (moved > 0) logger.info('compression', { moved, tookMs: status.lastRun.tookMs });
  }, intervalMs);
  return { status: (): CompressionStatus => ({ ...status }), stop: periodic.stop };
}

export type ReadingCompressionRun = ReturnType<typeof startReadingCompression>;
