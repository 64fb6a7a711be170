import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { killOwned, once, own } from './owned-processes.ts';
import { freePort } from './redis-server.ts';

/** A real Mosquitto broker owned by a test, on a free loopback port: it can be killed. */
export interface MosquittoServer {
  readonly url: string;
  readonly port: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory: with `persistent`, its saved queue comes back. */
  restart(): Promise<void>;
  /** Kills it and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The shipped mosquitto.conf, whose persistence settings a persistent test broker takes. */
const SHIPPED_CONFIG = join(import.meta.dir, '..', '..', '..', 'mosquitto.conf');

/**
 * Starts Debian's `mosquitto` with anonymous access on 127.0.0.1, no bound on the QoS 1
 * messages it queues for an offline persistent session (the default, 1,000, drops the rest:
 * a worker killed for a few seconds under load would lose readings at the broker, not here),
 * and 1,000 QoS 1 messages in flight to a client (as mosquitto.conf). With `persistent`, it
 * saves its queue as the shipped mosquitto.conf says (`autosave_*`), into its own directory.
 */
export async function startMosquitto(options: { persistent?: boolean } = {}): Promise<MosquittoServer> {
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-mosquitto-'));
  const persistence = options.persistent
    ? [
        'persistence true',
        `persistence_location ${dir}/`,
        ...(await Bun.file(SHIPPED_CONFIG).text()).split('\n').filter((line) => line.startsWith('autosave_')),
      ]
    : ['persistence false'];
  // Started as root, mosquitto runs as its own user: it must be able to write its saved queue (and log) here.
  if (process.getuid?.() === 0) await Bun.$`chown mosquitto ${dir}`.quiet().nothrow();
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, 'mosquitto.conf');
    await Bun.write(
      config,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'max_queued_messages 0',
        'max_inflight_messages 1000',
        ...persistence,
        `log_dest file ${join(dir, 'mosquitto.log')}`,
        '',
      ].join('\n'),
    );
    let child: Subprocess<'ignore', 'ignore', 'pipe'>;
    try {
      child = await spawnBroker(config, port);
    } catch (error) {
      lastError = error;
      continue;
    }
    const kill = (signal: NodeJS.Signals = 'SIGKILL') => killOwned(child, signal);
    return {
      url: `mqtt://127.0.0.1:${port}`,
      port,
      kill,
      async restart() {
        if (child.exitCode === null && child.signalCode === null) await kill();
        child = await spawnBroker(config, port);
      },
      stop: once(async () => {
        await kill();
        await rm(dir, { recursive: true, force: true });
      }),
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error('could not start mosquitto (is it installed? apt-get install mosquitto)', { cause: lastError });
}

async function spawnBroker(config: string, port: number): Promise<Subprocess<'ignore', 'ignore', 'pipe'>> {
  // Debian puts it in /usr/sbin, which a user's PATH may lack.
  const child = own(
    Bun.spawn([Bun.which('mosquitto') ?? '/usr/sbin/mosquitto', '-c', config], {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    }),
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await accepts(port)) return child;
    await Bun.sleep(20);
  }
  await killOwned(child);
  throw new Error(`mosquitto on port ${port} did not start: ${await new Response(child.stderr).text()}`);
}

async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}
