import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOwned, once, own } from './owned-processes.ts';
import { freePort } from './redis-server.ts';

/** A real Mosquitto broker owned by a test, on a free loopback port: it can be killed. */
export interface MosquittoServer {
  readonly url: string;
  readonly port: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills it and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}


/**
 * Starts Debian's `mosquitto` with anonymous access on 127.0.0.1, no bound on the QoS 1
 * messages it queues for an offline persistent session (the default, 1,000, drops the rest:
 * a worker killed for a few seconds under load would lose readings at the broker, not here),
 * and 1,000 QoS 1 messages in flight to a client (as mosquitto.conf).
 */
export async function startMosquitto(): Promise<MosquittoServer> {
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-mosquitto-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, 'mosquitto.conf');
    await Bun.write(config, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'max_queued_messages 0', 'max_inflight_messages 1000', 'persistence false', `log_dest file ${join(dir, 'mosquitto.log')}`, ''].join('\n'));
    // Debian puts it in /usr/sbin, which a user's PATH may lack.
    const child = own(Bun.spawn([Bun.which('mosquitto') ?? '/usr/sbin/mosquitto', '-c', config], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' }));
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await accepts(port)) {
        ready = true;
        break;
      }
      await Bun.sleep(20);
    }
    if (!ready) {
      await killOwned(child);
      lastError = new Error(`mosquitto on port ${port} did not start: ${await new Response(child.stderr).text()}`);
      continue;
    }
    const kill = (signal: NodeJS.Signals = 'SIGKILL') => killOwned(child, signal);
    return {
      url: `mqtt://127.0.0.1:${port}`,
      port,
      kill,
      stop: once(async () => {
        await kill();
        await rm(dir, { recursive: true, force: true });
      }),
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error('could not start mosquitto (is it installed? apt-get install mosquitto)', { cause: lastError });
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
