import type { Subprocess } from 'bun';

/** Servers the tests started: killed when the test process exits, so a crashed run leaves none behind. */
const live = new Set<Subprocess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function own<T extends Subprocess>(child: T): T {
  live.add(child);
  return child;
}

/** Kills an owned server (default SIGKILL, as a crash would) and waits for it to exit. */
export async function killOwned(child: Subprocess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  child.kill(signal);
  await child.exited;
  live.delete(child);
}

/** `stop` made safe to call twice. */
export function once(stop: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= stop());
}
