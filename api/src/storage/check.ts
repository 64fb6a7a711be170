import type { StorageCheck } from './port.ts';

/**
 * Whether `probe` answers within `budgetMs`, and how fast: a database that hangs is `down` after
 * the budget rather than holding /health up.
 */
export async function timedCheck(probe: () => unknown, budgetMs = 1_000): Promise<StorageCheck> {
  const started = performance.now();
  const latencyMs = () => Number((performance.now() - started).toFixed(3));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(probe),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${budgetMs} ms`)), budgetMs);
      }),
    ]);
    return { status: 'ok', latencyMs: latencyMs() };
  } catch (error) {
    return { status: 'down', latencyMs: latencyMs(), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
