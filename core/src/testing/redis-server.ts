import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { killOwned, once, own } from './owned-processes.ts';

export interface RedisServerOptions {
  /** Persist with an append-only file, so a killed server restarts with its data. Default true. */
  appendOnly?: boolean;
  /** `always` makes every acknowledged write survive kill -9; `everysec` (default) may lose the last second. */
  fsync?: 'always' | 'everysec';
  /** `maxmemory`, e.g. `24mb` (noeviction): a Redis that fills. Default none. */
  maxMemory?: string;
  /** More `redis-server` arguments, e.g. `['--replicaof', '127.0.0.1', '6379']`. */
  args?: readonly string[];
  /**
   * A Redis Cluster of one node holding every slot (default true, unless `args` make a replica):
   * the same commands as one Redis, except that it refuses, as a cluster would, a MULTI, a script
   * or a command over keys of two hash slots. So every test on it also checks that the pipeline
   * runs on a cluster. `'node'`: cluster-enabled and empty, to be joined into a cluster of
   * several nodes (startRedisCluster).
   */
  cluster?: boolean | 'node';
}

/** A real redis-server owned by a test: it can be killed and restarted on the same port and data. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The server process's id (changes on restart). */
  readonly pid: number;
  /** Kills the server (default SIGKILL, as a crash would) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it in its tracks (SIGSTOP): a partition, as its clients and peers see it. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
  /** Starts it again on the same port and directory; with AOF the data comes back. */
  restart(): Promise<void>;
  /** Kills it and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/**
 * Starts Debian's `redis-server` on a free loopback port in a fresh temp dir.
 * Test files may run in parallel: each gets its own port, and a port taken between the probe and
 * the bind is retried with another.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const { appendOnly = true, fsync = 'everysec', maxMemory } = options;
  const cluster = options.cluster ?? !options.args?.includes('--replicaof');
  const extra = [
    ...(maxMemory ? ['--maxmemory', maxMemory, '--maxmemory-policy', 'noeviction'] : []),
    ...(cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] : []),
    // A node alone never learns its address from a peer, and names none in CLUSTER SLOTS: a
    // cluster client (REDIS_CLUSTER_NODES) then has nowhere to send its commands.
    ...(cluster === true ? ['--cluster-announce-ip', '127.0.0.1'] : []),
    // A node of a cluster of several: a dead master's replica takes over 2 s after (Redis's default: 15).
    ...(cluster === 'node' ? ['--cluster-node-timeout', '2000'] : []),
    ...(options.args ?? []),
  ];
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-redis-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child = await spawnRedis(port, dir, appendOnly, fsync, extra, cluster === true);
      const kill = (signal: NodeJS.Signals = 'SIGKILL') => killOwned(child, signal);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        dir,
        get pid() {
          return child.pid;
        },
        kill,
        pause: () => void child.kill('SIGSTOP'),
        resume: () => void child.kill('SIGCONT'),
        async restart() {
          if (child.exitCode === null && child.signalCode === null) await kill();
          child = await spawnRedis(port, dir, appendOnly, fsync, extra, cluster === true);
        },
        stop: once(async () => {
          await kill();
          await rm(dir, { recursive: true, force: true });
        }),
      };
    } catch (error) {
      lastError = error;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error('could not start redis-server (is it installed? apt-get install redis-server)', { cause: lastError });
}

async function spawnRedis(
  port: number,
  dir: string,
  appendOnly: boolean,
  fsync: string,
  extra: readonly string[],
  oneNodeCluster: boolean,
): Promise<Subprocess> {
  const child = Bun.spawn(
    [
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      appendOnly ? 'yes' : 'no',
      '--appendfsync',
      fsync,
      '--save',
      '',
      '--logfile',
      'redis.log',
      ...extra,
    ],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
  );
  own(child);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if ((await ping(port)) && (!oneNodeCluster || (await clusterReady(port)))) return child;
    await Bun.sleep(20);
  }
  await killOwned(child);
  throw new Error(`redis-server on port ${port} did not become ready; see ${join(dir, 'redis.log')}`);
}

/**
 * True once a one-node cluster serves every slot: it takes them all when new, and answers with
 * `cluster_state:ok` (a restarted node reads them back from nodes.conf, ok after about 2 s).
 */
async function clusterReady(port: number): Promise<boolean> {
  const info = await command(port, 'CLUSTER INFO');
  if (info.includes('cluster_state:ok')) return true;
  if (info.includes('cluster_slots_assigned:0')) await command(port, 'CLUSTER ADDSLOTSRANGE 0 16383');
  return false;
}

/** A port the kernel just handed out; free unless someone else takes it first. */
export async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

/** True when a Redis answers PING with PONG (not LOADING) on the port. */
async function ping(port: number): Promise<boolean> {
  return (await command(port, 'PING')).startsWith('+PONG');
}

/** The first chunk of a Redis's answer to an inline command ('' when it gives none within 500 ms). */
async function command(port: number, inline: string): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  const timer = setTimeout(() => resolve(''), 500);
  try {
    await Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        open: (socket) => void socket.write(`${inline}\r\n`),
        data: (socket, data) => {
          resolve(data.toString());
          socket.end();
        },
        close: () => resolve(''),
        error: () => resolve(''),
        connectError: () => resolve(''),
      },
    });
  } catch {
    resolve('');
  }
  const answer = await promise;
  clearTimeout(timer);
  return answer;
}
