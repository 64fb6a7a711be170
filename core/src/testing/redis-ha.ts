import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { answersPing, withShortConnection } from '../redis.ts';
import { dataNodeArgs, sentinelConfig } from '../redis-ha-layout.ts';
import { killOwned, own } from './owned-processes.ts';
import { type RedisServer, freePort, startRedisServer } from './redis-server.ts';
import { waitFor } from './wait.ts';

export const HA_MASTER_NAME = 'telemetry';

/** One `redis-server --sentinel` owned by a test. */
export interface SentinelProcess {
  readonly port: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A primary, its replicas and the Sentinels that watch them, as the README's HA layout. */
export interface RedisHa {
  /** The servers as started: [primary, ...replicas]. Which is primary changes with failovers. */
  readonly servers: readonly RedisServer[];
  readonly sentinels: readonly SentinelProcess[];
  /** `REDIS_SENTINELS` for the services. */
  readonly sentinelList: string;
  readonly masterName: string;
  /** The server the Sentinels name as primary now. */
  primary(): Promise<RedisServer>;
  /** Waits until the Sentinels name another primary than `previous` and it takes writes. */
  failedOver(previous: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  /**
   * Waits until the failover away from `previous` is over: a new primary, and every other server
   * but `previous` replicating it with its link up. Until then a replica may still hang on the old
   * primary's link — an old primary back in that moment has its writes confirmed by that replica
   * (WAIT) before the replica resyncs from the new one and drops them (see the README).
   */
  failoverComplete(previous: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  /** Waits until `server` replicates the current primary with its link up (a restarted one rejoined and synced). */
  rejoined(server: RedisServer, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisHaOptions {
  replicas?: number;
  sentinels?: number;
  /** Sentinel's `down-after-milliseconds`: how long a silent primary takes to be judged down. Default 1,000. */
  downAfterMs?: number;
  /** The primary's `min-replicas-to-write` (and each replica's, once promoted). Default 1. */
  minReplicasToWrite?: number;
}

/**
 * Debian's redis-server as a primary with `replicas` replicas (AOF, `min-replicas-to-write`,
 * `min-replicas-max-lag 5`) and `sentinels` Sentinels (quorum a majority) on free loopback
 * ports, each in its own directory; resolves once every Sentinel sees every replica and the other
 * Sentinels, so that a failover can happen at once.
 */
export async function startRedisHa(options: RedisHaOptions = {}): Promise<RedisHa> {
  const { replicas = 2, sentinels: sentinelCount = 3, downAfterMs = 1_000, minReplicasToWrite = 1 } = options;
  const writeSafety = dataNodeArgs(minReplicasToWrite);
  const primary = await startRedisServer({ args: writeSafety, cluster: false });
  const servers = [
    primary,
    ...(await Promise.all(
      Array.from({ length: replicas }, () =>
        startRedisServer({ args: [...writeSafety, '--replicaof', '127.0.0.1', String(primary.port)] }),
      ),
    )),
  ];
  const quorum = Math.floor(sentinelCount / 2) + 1;
  const sentinels = await Promise.all(
    Array.from({ length: sentinelCount }, () => startSentinel(primary.port, quorum, downAfterMs)),
  );
  /** A Sentinel command, answered by the first Sentinel that is up. */
  const ask = async <T>(command: string[]): Promise<T> => {
    for (const sentinel of sentinels) {
      const answer = await withShortConnection({ host: '127.0.0.1', port: sentinel.port }, (client) =>
        client.call(command[0] as string, ...command.slice(1)),
      ).catch(() => undefined);
      if (answer !== undefined) return answer as T;
    }
    throw new Error('no Sentinel answers');
  };
  const primaryNow = async (): Promise<RedisServer> => {
    const [, port] = await ask<[string, string]>(['SENTINEL', 'get-master-addr-by-name', HA_MASTER_NAME]);
    const found = servers.find((server) => server.port === Number(port));
    if (!found) throw new Error(`the Sentinels name an unknown primary on port ${port}`);
    return found;
  };
  const failedOver = (previous: RedisServer, timeoutMs = 30_000): Promise<RedisServer> =>
    waitFor(
      async () => {
        const now = await primaryNow().catch(() => undefined);
        if (!now || now === previous) return false;
        const role = await withShortConnection(
          { host: '127.0.0.1', port: now.port },
          (client) => client.call('ROLE') as Promise<[string]>,
        ).catch(() => undefined);
        return role?.[0] === 'master' && now;
      },
      { what: 'a new primary', timeoutMs, intervalMs: 100 },
    );
  await waitFor(
    async () => {
      const replicasSeen = await ask<unknown[]>(['SENTINEL', 'replicas', HA_MASTER_NAME]);
      const master = await ask<string[]>(['SENTINEL', 'master', HA_MASTER_NAME]);
      const others = Number(master[master.indexOf('num-other-sentinels') + 1]);
      return replicasSeen.length === replicas && others === sentinelCount - 1;
    },
    { what: 'the Sentinels to see every replica and each other', timeoutMs: 30_000, intervalMs: 100 },
  );
  return {
    servers,
    sentinels,
    sentinelList: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(','),
    masterName: HA_MASTER_NAME,
    primary: primaryNow,
    failedOver,
    async failoverComplete(previous, timeoutMs = 30_000) {
      const primary = await failedOver(previous, timeoutMs);
      const others = servers.filter((server) => server !== previous && server !== primary);
      await waitFor(
        async () => (await Promise.all(others.map((server) => replicates(server, primary)))).every(Boolean),
        {
          what: `every replica to follow the new primary on port ${primary.port}`,
          timeoutMs,
          intervalMs: 50,
        },
      );
      return primary;
    },
    async rejoined(server, timeoutMs = 30_000) {
      await waitFor(
        async () => {
          const primary = await primaryNow().catch(() => undefined);
          return primary !== undefined && (await replicates(server, primary));
        },
        { what: `the server on port ${server.port} to replicate the primary again`, timeoutMs, intervalMs: 100 },
      );
    },
    async stop() {
      await Promise.all(sentinels.map((sentinel) => sentinel.kill()));
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/** True when `server` replicates `primary` with its link up and no sync in progress. */
async function replicates(server: RedisServer, primary: RedisServer): Promise<boolean> {
  const info = await withShortConnection({ host: '127.0.0.1', port: server.port }, (client) =>
    client.info('replication'),
  ).catch(() => '');
  return (
    info.includes('role:slave') &&
    info.includes(`master_port:${primary.port}`) &&
    info.includes('master_link_status:up') &&
    !info.includes('master_sync_in_progress:1')
  );
}

async function startSentinel(primaryPort: number, quorum: number, downAfterMs: number): Promise<SentinelProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-sentinel-'));
  const port = await freePort();
  const config = join(dir, 'sentinel.conf');
  await Bun.write(
    config,
    sentinelConfig({
      port,
      dir,
      masterName: HA_MASTER_NAME,
      primaryPort,
      quorum,
      downAfterMs,
      logfile: join(dir, 'sentinel.log'),
    }),
  );
  const child: Subprocess = own(
    Bun.spawn(['redis-server', config, '--sentinel'], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' }),
  );
  await waitFor(() => answersPing(port), { what: `Sentinel on port ${port}`, timeoutMs: 10_000 });
  return {
    port,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await killOwned(child, signal);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
