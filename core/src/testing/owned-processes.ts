import type { Subprocess } from 'bun';

import { constants } from 'node:os';

/**
 * Servers and services a test or benchmark started: killed when its process exits, so a crashed
 * run leaves none behind — a run stopped by a signal too (a timeout's SIGTERM, Ctrl-C), which
 * otherwise ends the process without its exit handlers.
 */
const live = new Set<Subprocess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
  process.once(signal, () => process.exit(128 + constants.signals[signal]));

/** Kills `child` with this process; forgotten once it exits (its pid may be another's then). */
export function own<T extends Subprocess>(child: T): T {
  live.add(child);
  void child.exited.then(() => live.delete(child));
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
