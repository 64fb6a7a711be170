/**
 * Sleeps that a stop can cut short, all at once: a worker waiting out a backoff or a tick must
 * not hold up its shutdown.
 */
export function createSleeper() {
  const waking = new Set<() => void>();
  return {
    sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waking.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        waking.add(done);
      });
    },
    wakeAll() {
      for (const done of [...waking]) done();
    },
  };
}
