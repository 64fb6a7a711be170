import type { Logger } from './logger.ts';

/**
 * On the first SIGTERM or SIGINT: logs it, runs `stop` (finish the work in hand, close), and
 * exits 0. Later signals are ignored, so a double Ctrl-C cannot cut the clean stop short. A stop
 * that cannot finish within `timeoutMs` (Redis gone, so nothing can be acked) is given up, loudly:
 * what was not acknowledged stays pending and is delivered again, so exiting loses nothing.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting_down', { signal });
      const timer = setTimeout(() => {
        logger.warn('shutdown_timed_out', {
          timeoutMs,
          hint: 'unacknowledged entries stay pending and are delivered again',
        });
        process.exit(0);
      }, timeoutMs);
      try {
        await stop();
      } catch (error) {
        logger.error('shutdown_failed', { error });
      }
      clearTimeout(timer);
      process.exit(0);
    });
  }
}
