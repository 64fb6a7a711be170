import type { Subprocess } from 'bun';
import { own } from './owned-processes.ts';

/** A service started as its own `bun` process, as in production, with its output kept for asserts. */
export interface ServiceProcess {
  readonly pid: number;
  readonly child: Subprocess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Parsed JSON log lines with this `event`. */
  events(event: string): Array<Record<string, unknown>>;
  /** Sends a signal (default SIGKILL, as a crash would) and waits for the exit code. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number>;
}

/** Starts `bun [bunFlags] <entry>` with `env` added to this process's environment. */
export function startService(
  entry: string,
  env: Record<string, string>,
  bunFlags: readonly string[] = [],
  args: readonly string[] = [],
): ServiceProcess {
  const chunks: string[] = [];
  const child = own(
    Bun.spawn(['bun', ...bunFlags, entry, ...args], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdout: 'pipe',
      stderr: 'pipe',
    }),
  );
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) chunks.push(decoder.decode(chunk, { stream: true }));
  };
  void collect(child.stdout);
  void collect(child.stderr);
  const exited = child.exited;
  return {
    pid: child.pid,
    child,
    output: () => chunks.join(''),
    events(event) {
      return chunks
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes(`"event":"${event}"`))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      await exited;
      return child.exitCode;
    },
    exited,
  };
}
