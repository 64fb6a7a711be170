/**
 * Moves WAL checkpoints off the request thread: a worker checkpoints every `intervalMs` with its
 * own connection. The API's connection keeps a high autocheckpoint as a safety net, should the
 * worker ever stop.
 */
export function startCheckpointer(path: string, intervalMs = 500): { stop(): void } {
  const worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url).href);
  worker.postMessage({ path, intervalMs });
  return { stop: () => worker.terminate() };
}
