import type { Logger } from './logger.ts';

/**
 * On the first SIGTERM or SIGINT: logs it, runs `stop` (finish the work in hand, close), and
 * exits 0. Later signals are ignored, so a double Ctrl-C cannot cut the clean stop short.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting_down', { signal });
      try {
        await stop();
      } catch (error) {
        logger.error('shutdown_failed', { error });
      }
      process.exit(0);
    });
  }
}
