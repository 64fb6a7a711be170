/**
 * `bun run start --ha`: a Redis primary, two replicas and three Sentinels on this machine, for
 * trying failover where there is one machine (`kill -9` the primary, watch the pipeline go on).
 * Each in its own folder under data/redis-ha/ (AOF on), on free ports; the primary and replicas
 * refuse writes with no replica in sync (min-replicas-to-write 1, min-replicas-max-lag 5); the
 * Sentinels judge a primary down after 2 s. All in sessions of their own (detached), stopped last.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { answersPing, dataNodeArgs, sentinelConfig } from 'core';

const MASTER_NAME = 'telemetry';

export interface LocalRedisHa {
  /** REDIS_SENTINELS for the services. */
  sentinels: string;
  /** Each process: its role and port, for the start's message. */
  describe(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

export async function startLocalRedisHa(dataDir: string): Promise<LocalRedisHa> {
  const base = join(dataDir, 'redis-ha');
  // A fresh layout each start: Sentinel remembers ports in its file, and these change.
  rmSync(base, { recursive: true, force: true });
  const children: Array<ReturnType<typeof Bun.spawn>> = [];
  const spawn = (args: string[]) => {
    const child = Bun.spawn(['redis-server', ...args], {
      env: { ...process.env },
      stdout: 'ignore',
      stderr: 'inherit',
      detached: true,
    });
    children.push(child);
    return child;
  };
  const writeSafety = [...dataNodeArgs(1), '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];
  const nodePorts = [await freePort(), await freePort(), await freePort()];
  nodePorts.forEach((port, index) => {
    const dir = join(base, index === 0 ? 'primary' : `replica-${index}`);
    mkdirSync(dir, { recursive: true });
    spawn([
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      ...writeSafety,
      ...(index === 0 ? [] : ['--replicaof', '127.0.0.1', String(nodePorts[0])]),
    ]);
  });
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  for (const [index, port] of sentinelPorts.entries()) {
    const dir = join(base, `sentinel-${index + 1}`);
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'sentinel.conf');
    await Bun.write(
      config,
      sentinelConfig({
        port,
        dir,
        masterName: MASTER_NAME,
        primaryPort: nodePorts[0] as number,
        quorum: 2,
        downAfterMs: 2_000,
      }),
    );
    spawn([config, '--sentinel']);
  }
  const deadline = Date.now() + 15_000;
  for (const port of [...nodePorts, ...sentinelPorts]) {
    while (!(await answersPing(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start (see the lines above)`);
      await Bun.sleep(100);
    }
  }
  return {
    sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
    describe: () =>
      `primary 127.0.0.1:${nodePorts[0]}, replicas ${nodePorts
        .slice(1)
        .map((port) => `127.0.0.1:${port}`)
        .join(' and ')}, Sentinels ${sentinelPorts.map((port) => `127.0.0.1:${port}`).join(', ')} (data in ${base})`,
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((child) => child.exited));
    },
  };
}
