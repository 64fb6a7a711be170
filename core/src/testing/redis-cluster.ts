import { type RedisServer, startRedisServer } from './redis-server.ts';
import { waitFor } from './wait.ts';

/** A real Redis Cluster owned by a test: Debian's redis-server nodes joined by `redis-cli --cluster create`. */
export interface RedisCluster {
  /** Every node, masters first as `redis-cli` made them (a node's role can change after a failover). */
  readonly nodes: readonly RedisServer[];
  /** `host:port,…` of every node: what REDIS_CLUSTER_NODES takes. */
  readonly nodeList: string;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Default 3 (the fewest a cluster allows). */
  masters?: number;
  /** Replicas of each master. Default 1. */
  replicasPerMaster?: number;
}

/**
 * Starts `masters × (1 + replicasPerMaster)` cluster-enabled nodes on free ports, joins them into
 * one cluster with the slots spread over the masters, and waits until every node says the
 * cluster is ok.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const { masters = 3, replicasPerMaster = 1 } = options;
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicasPerMaster) }, () => startRedisServer({ cluster: 'node' })),
  );
  const stop = async () => void (await Promise.all(nodes.map((node) => node.stop())));
  try {
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const create = Bun.spawn(
      [
        'redis-cli',
        '--cluster',
        'create',
        ...addresses,
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    );
    if ((await create.exited) !== 0)
      throw new Error(`redis-cli --cluster create failed: ${await new Response(create.stdout).text()}`);
    for (const node of nodes)
      await waitFor(async () => (await redisCli(node.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), {
        timeoutMs: 20_000,
        what: `node ${node.port} to see the cluster ok`,
      });
    // Each replica synced with its master: a write can then be confirmed on it (WAIT).
    for (const node of nodes)
      await waitFor(
        async () => {
          const replication = await redisCli(node.port, 'INFO', 'replication');
          return replication.includes('role:master')
            ? Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0) >= replicasPerMaster
            : replication.includes('master_link_status:up');
        },
        { timeoutMs: 20_000, what: `node ${node.port}'s replication up` },
      );
    return { nodes, nodeList: addresses.join(','), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A node's answer to one command, through redis-cli (on a connection of its own). */
export async function redisCli(port: number, ...command: string[]): Promise<string> {
  const info = Bun.spawn(['redis-cli', '-p', String(port), ...command], { stdout: 'pipe', stderr: 'ignore' });
  const text = await new Response(info.stdout).text();
  await info.exited;
  return text;
}
