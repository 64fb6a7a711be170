import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort } from './redis-server.ts';

/** A real PostgreSQL server owned by a test: it can be killed (as a crash would) and restarted on the same data. */
export interface PostgresServer {
  /** The server's `postgres` database; make your own with `createDatabase`. */
  readonly url: string;
  readonly port: number;
  /** The postmaster's process id (changes on restart). */
  readonly pid: number;
  /** A fresh, empty database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Kills the postmaster and every backend (default SIGKILL, a crash) and waits for them to go. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory (crash recovery runs). */
  restart(): Promise<void>;
  /** Kills it and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const live = new Set<Subprocess>();
// A crashed test run must not leave servers behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<major>/bin`). */
async function binDir(): Promise<string> {
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? (await readdir(base)).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a))
    : [];
  const found = majors.map((major) => join(base, major, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
  if (!found)
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql; .ci/run does)',
    );
  return found;
}

/** PostgreSQL refuses to run as root: as root, run its programs as the `postgres` user. */
async function asServerUser(): Promise<{ prefix: string[]; uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const passwd = await readFile('/etc/passwd', 'utf8');
  const entry = passwd.split('\n').find((line) => line.startsWith('postgres:'));
  if (!entry)
    throw new Error(
      'running as root, and there is no "postgres" user to run PostgreSQL as (apt-get install postgresql creates it)',
    );
  const [, , uid, gid] = entry.split(':');
  // setpriv execs the program itself, so the process we hold is the server's, and killing it kills the server.
  return {
    prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'],
    uid: Number(uid),
    gid: Number(gid),
  };
}

/** Processes whose parent is `pid`: the postmaster's backends, killed with it to act out a crash. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

async function ready(url: string): Promise<boolean> {
  const sql = new Bun.SQL(url, { max: 1, connectionTimeout: 1 });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.close().catch(() => {});
  }
}

export interface PostgresServerOptions {
  /**
   * fsync as in production (benchmarks). Default off: a killed server loses nothing without it
   * (only an OS crash could), and tests run faster.
   */
  fsync?: boolean;
}

/**
 * Starts Debian's PostgreSQL (`initdb` + `postgres`) on a free loopback port in a fresh temp dir,
 * trust authentication.
 */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = await binDir();
  const user = await asServerUser();
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-postgres-'));
  if (user.uid !== undefined && user.gid !== undefined) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const init = Bun.spawn(
    [...user.prefix, join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
    { stdout: 'pipe', stderr: 'pipe' },
  );
  if ((await init.exited) !== 0) {
    const output = await new Response(init.stderr).text();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${output.trim().slice(-500)}`);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const spawn = async () => {
    const child = Bun.spawn(
      [
        ...user.prefix,
        join(bin, 'postgres'),
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `fsync=${options.fsync ? 'on' : 'off'}`,
        '-c',
        'max_connections=200',
        '-c',
        'shared_buffers=64MB',
      ],
      { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
    );
    live.add(child);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await ready(url)) return child;
      await Bun.sleep(50);
    }
    child.kill('SIGKILL');
    throw new Error(`postgres did not start on port ${port} (exit code ${child.exitCode})`);
  };
  let child = await spawn();
  let stopped = false;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const backends = signal === 'SIGKILL' ? await childrenOf(child.pid) : [];
    child.kill(signal);
    for (const pid of backends) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await child.exited;
    live.delete(child);
    // A restart must not find a backend of the old server still holding its shared memory.
    while ((await Promise.all(backends.map((pid) => existsSync(`/proc/${pid}`)))).some(Boolean)) await Bun.sleep(20);
  };
  return {
    url,
    port,
    get pid() {
      return child.pid;
    },
    async createDatabase(name: string) {
      const sql = new Bun.SQL(url, { max: 1 });
      try {
        await sql.unsafe(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
      } finally {
        await sql.close();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    kill,
    async restart() {
      if (child.exitCode === null && child.signalCode === null) await kill();
      child = await spawn();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Databases of a test's own: on `TEST_DATABASE_URL`'s server when set, else on a server of its own. */
export interface TestDatabase {
  /** A first fresh database, made for the test. */
  readonly url: string;
  /** The server, when the test started it (undefined on TEST_DATABASE_URL's, which it must not kill). */
  readonly server?: PostgresServer;
  /** Another fresh, empty database on the same server; returns its URL. */
  createDatabase(): Promise<string>;
  /** Drops every database it made (or stops the test's own server). */
  stop(): Promise<void>;
}

let counter = 0;
const databaseName = () => `telemetry_test_${process.pid}_${Date.now()}_${counter++}`;

/**
 * Fresh databases for a test. With `TEST_DATABASE_URL` (any database on an existing server) the
 * test creates uniquely named databases there and drops only those; it never touches others.
 */
export async function usePostgres(): Promise<TestDatabase> {
  const external = process.env.TEST_DATABASE_URL;
  if (!external) {
    const server = await startPostgresServer();
    return {
      url: await server.createDatabase(databaseName()),
      server,
      createDatabase: () => server.createDatabase(databaseName()),
      stop: () => server.stop(),
    };
  }
  const made: string[] = [];
  const createDatabase = async () => {
    const name = databaseName();
    const admin = new Bun.SQL(external, { max: 1 });
    try {
      await admin.unsafe(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.close();
    }
    made.push(name);
    const url = new URL(external);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return {
    url: await createDatabase(),
    createDatabase,
    async stop() {
      const sql = new Bun.SQL(external, { max: 1 });
      try {
        for (const name of made) await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await sql.close();
      }
    },
  };
}
