/**
 * Debian's nats-server with JetStream, started by the bench on a free loopback port with its own
 * store directory (file storage, its defaults otherwise), and stopped with it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, own, waitFor } from 'core/testing';

export interface NatsServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServer> {
  const binary = Bun.which('nats-server') ?? Bun.which('nats-server', { PATH: '/usr/sbin:/usr/bin' });
  if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const dir = await mkdtemp(join(tmpdir(), 'vs-peers-nats-'));
  const port = await freePort();
  const child = own(
    Bun.spawn([binary, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdout: 'ignore',
      stderr: 'ignore',
    }),
  );
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
      return Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } }).then(
        (socket) => (socket.end(), true),
        () => false,
      );
    },
    { what: 'nats-server to listen' },
  );
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill('SIGKILL');
      await child.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
