/**
 * The redundant layout's settings, one place for the test layout and `bun run start --ha` (the
 * compose file states them again, statically): what a primary and its replicas run with, and a
 * Sentinel's configuration file.
 */

/**
 * A data node's replication settings: it refuses writes while fewer than `minReplicasToWrite`
 * replicas acknowledged within 5 s (an old primary cut off from its replicas takes nothing a
 * failover would discard), and syncs a replica diskless at once (a replica reconfigured after a
 * failover is in sync in well under a second).
 */
export function dataNodeArgs(minReplicasToWrite = 1): string[] {
  return [
    '--min-replicas-to-write',
    String(minReplicasToWrite),
    '--min-replicas-max-lag',
    '5',
    '--repl-diskless-sync',
    'yes',
    '--repl-diskless-sync-delay',
    '0',
  ];
}

/** A Sentinel's configuration file (Sentinel rewrites it with what it learns). */
export function sentinelConfig(options: {
  port: number;
  dir: string;
  masterName: string;
  primaryPort: number;
  quorum: number;
  downAfterMs: number;
  logfile?: string;
}): string {
  const { port, dir, masterName, primaryPort, quorum, downAfterMs, logfile } = options;
  return [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    ...(logfile ? [`logfile ${logfile}`] : []),
    `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} ${quorum}`,
    `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
    `sentinel failover-timeout ${masterName} 10000`,
    `sentinel parallel-syncs ${masterName} 2`,
    '',
  ].join('\n');
}
