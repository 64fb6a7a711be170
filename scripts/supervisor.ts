import type { Subprocess } from 'bun';
import { backoffMs } from 'core';

export interface ServiceSpec {
  name: string;
  /** Command and arguments, e.g. ['bun', 'api/src/index.ts']. */
  command: string[];
  env?: Record<string, string>;
  colour: string;
  /** Started once this settles (e.g. the API answering, so that its clients do not log its absence first). */
  startAfter?: Promise<unknown>;
}

export interface Supervisor {
  /** Stops every service with SIGTERM (SIGKILL after `graceMs`) and waits for them. */
  stop(graceMs?: number): Promise<void>;
}

const RESET = '\x1b[0m';

/** A service's exit code for a configuration it refuses (core's configOrExit): restarting cannot help. */
export const BAD_CONFIGURATION_EXIT = 2;

/**
 * Runs services as child processes with prefixed, coloured output, and restarts one that exits
 * unexpectedly, with capped backoff (a crash loop slows down instead of spinning) — except one
 * that refuses its configuration (exit 2): that is told to `onBadConfiguration`, once, and the
 * service is not started again (it would refuse it again, for ever).
 */
export function supervise(
  specs: readonly ServiceSpec[],
  write: (line: string) => void = (line) => process.stdout.write(line),
  onBadConfiguration: (service: string) => void = () => {},
): Supervisor {
  let stopping = false;
  const children = new Map<string, Subprocess>();
  const width = Math.max(...specs.map((spec) => spec.name.length));

  const pipe = async (spec: ServiceSpec, stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buffered = '';
    const prefix = `${spec.colour}${spec.name.padEnd(width)} |${RESET} `;
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) write(`${prefix}${line}\n`);
    }
    if (buffered) write(`${prefix}${buffered}\n`);
  };

  const run = (spec: ServiceSpec, restarts: number) => {
    const startedAt = Date.now();
    const child = Bun.spawn(spec.command, {
      env: { ...process.env, ...spec.env },
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
    });
    children.set(spec.name, child);
    void pipe(spec, child.stdout);
    void pipe(spec, child.stderr);
    void child.exited.then(async (code) => {
      children.delete(spec.name);
      if (stopping) return;
      if (code === BAD_CONFIGURATION_EXIT) {
        write(
          `${spec.colour}${spec.name.padEnd(width)} |${RESET} exited with ${code}: its configuration is wrong (said above); not restarted\n`,
        );
        onBadConfiguration(spec.name);
        return;
      }
      // A service that ran for a minute was healthy: start its backoff afresh.
      const attempt = Date.now() - startedAt > 60_000 ? 0 : restarts;
      const delay = backoffMs(attempt, 500, 30_000);
      write(
        `${spec.colour}${spec.name.padEnd(width)} |${RESET} exited with ${code ?? child.signalCode}; restarting in ${(delay / 1_000).toFixed(1)} s\n`,
      );
      await Bun.sleep(delay);
      if (!stopping) run(spec, attempt + 1);
    });
  };

  for (const spec of specs)
    void (spec.startAfter ?? Promise.resolve()).finally(() => {
      if (!stopping) run(spec, 0);
    });

  return {
    async stop(graceMs = 10_000) {
      stopping = true;
      const running = [...children.values()];
      for (const child of running) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const child of running) child.kill('SIGKILL');
      }, graceMs);
      await Promise.all(running.map((child) => child.exited));
      clearTimeout(timer);
    },
  };
}
