/**
 * Runs `pass` now and then every `intervalMs`, one at a time (a pass still running when the next
 * is due is not doubled). `pass` is told whether to stop early; stop() waits for the one running.
 */
export function startPeriodic(pass: (stopping: () => boolean) => Promise<void>, intervalMs: number) {
  let stopped = false;
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= pass(() => stopped).finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref?.();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
