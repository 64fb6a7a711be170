import type { Logger } from 'core';
import { startPeriodic } from '../../periodic.ts';
import type { AlertHistory } from '../../storage/port.ts';

const DAY_MS = 86_400_000;
/** Alerts removed per statement: short transactions, so writes never wait long behind retention. */
const CHUNK = 5_000;

/**
 * Removes alerts older than RETAIN_ALERT_DAYS (by the reading's time), at start and then every
 * `intervalMs`, in chunks. Every API instance runs it; removing twice removes nothing.
 */
export function startAlertRetention(options: {
  store: AlertHistory;
  retainDays: number;
  logger: Logger;
  intervalMs?: number;
}) {
  const { store, retainDays, logger, intervalMs = 60 * 60 * 1_000 } = options;
  return startPeriodic(async (stopping) => {
    const before = Date.now() - retainDays * DAY_MS;
    let removed = 0;
    try {
      for (let step = CHUNK; step === CHUNK && !stopping(); ) {
        step = await store.removeAlertsBefore(before, CHUNK);
        removed += step;
      }
      if (removed > 0) logger.info('alert_retention', { removed, before: new Date(before).toISOString() });
    } catch (error) {
      logger.warn('alert_retention_failed', { error: (error as Error).message, removed });
    }
  }, intervalMs);
}
