import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withShortConnection, streamKeys } from 'core';
import { readFigures, summaryLine } from './start-summary.ts';
import { freePort, startMosquitto, startRedisServer, startService, waitFor } from 'core/testing';
import Redis from 'ioredis';
import mqtt from 'mqtt';

const root = join(import.meta.dir, '..');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'run-it-'));
  // What start saves (a token secret, a chosen Redis) goes to a .env of the test's own, never the
  // repository's: every start below inherits this.
  process.env.ENV_FILE = join(dir, 'run-it.env');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The redis-server (or Sentinel) serving `port`, found by its command line: it writes its title over its environment. */
function redisOnPort(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (
        new RegExp(`^redis-server 127\\.0\\.0\\.1:${port}(?!\\d)`).test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))
      )
        return Number(entry);
    } catch {
      // Gone already.
    }
  }
  return undefined;
}

/** Processes whose environment holds `marker`: what a run left behind. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return found;
}

describe('bun run start', () => {
  it('starts its own Redis when none answers, gets readings (simulated and over MQTT) into the API within seconds, and Ctrl-C leaves nothing behind', async () => {
    const [redisPort, apiPort] = [await freePort(), await freePort()];
    const broker = await startMosquitto();
    const dataDir = join(dir, 'data');
    const start = startService(join(root, 'scripts/start.ts'), {
      MQTT_URL: broker.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PORT: String(apiPort),
      DATA_DIR: dataDir,
      API_TOKEN: 'run-it-token',
      INTERVAL_MS: '200',
      // start's own default, as a user gets it (the test helper sets info).
      LOG_LEVEL: '',
    });
    try {
      const latest = await waitFor(
        async () => {
          const response = await fetch(`http://127.0.0.1:${apiPort}/readings/latest?limit=5`).catch(() => undefined);
          const rows = response?.ok ? ((await response.json()) as unknown[]) : [];
          return rows.length > 0 && rows;
        },
        { what: 'readings in the API', timeoutMs: 20_000 },
      );
      expect(latest.length).toBeGreaterThan(0);
      // A device publishing over MQTT reaches the API through the broker, ingest-mqtt and the stream.
      // Sent again until it is there (ingest-mqtt may not have subscribed yet): the same message
      // makes the same reading id, stored once however often it arrives.
      const device = await mqtt.connectAsync(broker.url);
      const message = JSON.stringify({ metric: 'kwh', value: 12.5, unit: 'kWh', ts: new Date().toISOString() });
      const mqttReadings = async () => {
        const response = await fetch(`http://127.0.0.1:${apiPort}/readings?deviceId=mqtt-meter`).catch(() => undefined);
        return response?.ok ? ((await response.json()) as { readings: unknown[] }).readings.length : 0;
      };
      await waitFor(
        async () => {
          if ((await mqttReadings()) > 0) return true;
          await device.publishAsync('telemetry/mqtt-meter', message, { qos: 1 });
          return false;
        },
        { what: 'the MQTT reading in the API', timeoutMs: 20_000, intervalMs: 500 },
      );
      await device.endAsync();
      expect(await mqttReadings()).toBe(1);
      // The terminal holds warnings and alerts, not every service's status lines; start's own
      // summary says how the pipeline is.
      expect(start.output()).not.toContain('"level":"info"');
      const figures = await readFigures(`http://127.0.0.1:${apiPort}`);
      expect(figures && summaryLine(figures, undefined)).toMatch(
        /^pipeline \w+.* · [\d,]+ readings stored · backlog [\d,]+ · dead letters 0$/,
      );
      expect(start.output()).toContain('starting redis-server');
      expect(start.output()).toContain(`http://127.0.0.1:${apiPort}/openapi`);
      // The URLs again once the API answers, below the services' start-up lines.
      await waitFor(() => start.output().includes(`ready: dashboard http://127.0.0.1:${apiPort}/`), {
        what: 'the ready line',
      });
      expect(processesWith(`DATA_DIR=${dataDir}`).length).toBeGreaterThanOrEqual(5);
    } finally {
      start.child.kill('SIGINT');
    }
    expect(await start.exited).toBe(0);
    await waitFor(() => processesWith(`DATA_DIR=${dataDir}`).length === 0, {
      what: 'every child gone',
      timeoutMs: 5_000,
    });
    expect(
      await fetch(`http://127.0.0.1:${apiPort}/health`).then(
        () => 'up',
        () => 'down',
      ),
    ).toBe('down');
    await broker.stop();
  }, 60_000);
});

describe('bun run start --ha', () => {
  it('runs a Redis primary, two replicas and three Sentinels of its own, every service through them, and Ctrl-C stops them all', async () => {
    const apiPort = await freePort();
    const dataDir = join(dir, 'data-ha');
    const ports: number[] = [];
    const start = startService(
      join(root, 'scripts/start.ts'),
      {
        MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
        PORT: String(apiPort),
        DATA_DIR: dataDir,
        API_TOKEN: 'run-it-token',
        INTERVAL_MS: '200',
      },
      [],
      ['--ha'],
    );
    const count = async () => {
      const response = await fetch(`http://127.0.0.1:${apiPort}/stats?deviceLimit=0`).catch(() => undefined);
      return response?.ok ? ((await response.json()) as { count: number }).count : 0;
    };
    try {
      await waitFor(async () => (await count()) > 0, { what: 'readings in the API', timeoutMs: 30_000 }).catch(
        (error: Error) => {
          throw new Error(`${error.message}; start said:\n${start.output().slice(0, 3_000)}`);
        },
      );
      expect(start.output()).toContain('other commands reach it with REDIS_SENTINELS=');
      const layout = /Redis for redundancy: (.*)$/m.exec(start.output())?.[1] ?? '';
      ports.push(...[...layout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((match) => Number(match[1])));
      expect(ports).toHaveLength(6);
      expect(ports.every((port) => redisOnPort(port) !== undefined)).toBe(true);
    } finally {
      start.child.kill('SIGINT');
    }
    expect(await start.exited).toBe(0);
    await waitFor(() => processesWith(`DATA_DIR=${dataDir}`).length === 0, {
      what: 'every child gone',
      timeoutMs: 10_000,
    });
    await waitFor(() => ports.every((port) => redisOnPort(port) === undefined), {
      what: 'every Redis and Sentinel gone',
      timeoutMs: 10_000,
    });
  }, 90_000);
});

describe('bun run start without REDIS_URL', () => {
  it('runs its own Redis past another one, saves it as REDIS_URL in .env with a token secret, and deadletters and token run from there use them; a misspelt key in .env is named', async () => {
    const other = await startRedisServer({ appendOnly: false });
    const [ownPort, apiPort] = [await freePort(), await freePort()];
    const work = await mkdtemp(join(dir, 'first-hour-'));
    // A .env as a user copies it from .env.example (empty values), in place of the repository's.
    const envFile = join(work, '.env');
    await Bun.write(envFile, 'REDIS_URL=\nAPI_TOKEN=\nALERT_TRESHOLD=60\n');
    // As a user's shell: no REDIS_URL, no API_TOKEN; another Redis on the first port start tries.
    const start = startService(join(root, 'scripts/start.ts'), {
      ENV_FILE: envFile,
      REDIS_URL: '',
      API_TOKEN: '',
      TOKEN_SECRET: '',
      START_REDIS_PORTS: `${other.port},${ownPort}`,
      MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
      PORT: String(apiPort),
      DATA_DIR: join(work, 'data'),
      INTERVAL_MS: '200',
    });
    try {
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${apiPort}/readings/latest?limit=1`).then(
            async (r) => r.ok && ((await r.json()) as unknown[]).length > 0,
            () => false,
          ),
        {
          what: 'readings in the API',
          timeoutMs: 30_000,
        },
      );
      const saved = readFileSync(envFile, 'utf8');
      expect(saved).toContain(`REDIS_URL=redis://127.0.0.1:${ownPort}`);
      expect(saved).toMatch(/^API_TOKEN=.+$/m);
      expect(saved).toMatch(/^TOKEN_SECRET=.{40,}$/m);
      expect(start.output()).toContain(`another Redis answers on redis://127.0.0.1:${other.port}; leaving it alone`);
      expect(start.output()).toContain('ALERT_TRESHOLD is no setting of this pipeline — did you mean ALERT_THRESHOLD?');
      // A reading the store group refuses: a dead letter in the pipeline's Redis.
      const own = new Redis(`redis://127.0.0.1:${ownPort}`);
      await own.xadd('readings', '*', 'v', '3', 'r', '{"not":"a reading"}');
      await waitFor(async () => (await own.xlen(streamKeys(own, 'readings').dead)) === 1, { what: 'the dead letter' });
      own.disconnect();
      const { REDIS_URL: _url, API_TOKEN: _token, KEY_PREFIX: _prefix, TOKEN_SECRET: _secret, ...shell } = process.env;
      const list = Bun.spawnSync(['bun', join(root, 'scripts/deadletters.ts'), 'list'], {
        env: { ...shell, ENV_FILE: envFile },
      });
      expect(list.stdout.toString()).toContain('1 dead letter');
      // A device token minted from the same .env, which the API takes.
      const minted = Bun.spawnSync(['bun', join(root, 'scripts/token.ts'), '--device', 'pump-7', '--scope', 'ingest'], {
        env: { ...shell, ENV_FILE: envFile },
      });
      const token = minted.stdout.toString().trim().split('\n').at(-1) as string;
      const ingest = await fetch(`http://127.0.0.1:${apiPort}/ingest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: 'pump-7', metric: 'temp', value: 21.5, unit: '°C', ts: Date.now() }),
      });
      expect(ingest.status).toBe(202);
      // The other Redis was only asked who it is.
      expect(await withShortConnection({ host: '127.0.0.1', port: other.port }, (client) => client.dbsize())).toBe(0);
    } finally {
      start.child.kill('SIGINT');
      expect(await start.exited).toBe(0);
      await other.stop();
    }
  }, 60_000);
});

describe('bun run start with a setting a service refuses', () => {
  it('stops everything with exit 2 and the setting named, instead of restarting the service for ever', async () => {
    const [redisPort, apiPort] = [await freePort(), await freePort()];
    const dataDir = join(dir, 'bad-setting-data');
    const start = startService(join(root, 'scripts/start.ts'), {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
      PORT: String(apiPort),
      DATA_DIR: dataDir,
      API_TOKEN: 'run-it-token',
      ALERT_THRESHOLD: 'warm',
    });
    const code = await Promise.race([start.exited, Bun.sleep(45_000).then(() => 'still running')]);
    if (code !== 2) start.child.kill('SIGINT');
    expect(code).toBe(2);
    expect(start.output()).toContain('ALERT_THRESHOLD');
    expect(start.output()).toContain('consumer-alert refused its configuration');
    expect(start.output()).not.toContain('restarting in');
    await waitFor(() => processesWith(`DATA_DIR=${dataDir}`).length === 0, {
      what: 'every child gone',
      timeoutMs: 10_000,
    });
  }, 60_000);
});

describe('bun run start on a Redis set in REDIS_URL', () => {
  it('says loudly that a Redis keeping nothing on disk loses data on restart, and still runs on it', async () => {
    const redis = await startRedisServer({ appendOnly: false });
    const apiPort = await freePort();
    const dataDir = join(dir, 'bare-redis-data');
    const start = startService(join(root, 'scripts/start.ts'), {
      REDIS_URL: redis.url,
      MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
      PORT: String(apiPort),
      DATA_DIR: dataDir,
      API_TOKEN: 'run-it-token',
    });
    try {
      await waitFor(() => start.output().includes('IT KEEPS NOTHING ON DISK'), {
        what: 'the warning',
        timeoutMs: 20_000,
      });
      expect(start.output()).toContain(`using the Redis at ${redis.url}`);
      expect(start.output()).not.toContain('starting redis-server');
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${apiPort}/health`).then(
            (r) => r.status < 500,
            () => false,
          ),
        { what: 'the API', timeoutMs: 20_000 },
      );
    } finally {
      start.child.kill('SIGINT');
      expect(await start.exited).toBe(0);
      await redis.stop();
    }
  }, 60_000);
});

describe('bun run availability', () => {
  it('meets 99.9% at 100 clients × 10 requests against a running API, and fails below its target', async () => {
    const port = await freePort();
    const redis = await startRedisServer({ appendOnly: false });
    const api = startService(join(root, 'api/src/index.ts'), {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      DATABASE_URL: join(dir, 'avail.db'),
      LOG_LEVEL: 'warn',
      EXPECTED_WORKERS: '',
    });
    try {
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/health`).then(
            (r) => r.status < 500,
            () => false,
          ),
        { what: 'API' },
      );
      const run = Bun.spawn(['bun', join(root, 'scripts/availability.ts'), '--url', `http://127.0.0.1:${port}`], {
        stdout: 'pipe',
      });
      const output = await new Response(run.stdout).text();
      expect(await run.exited).toBe(0);
      expect(output).toContain('1000 requests from 100 clients');
      expect(output).toMatch(/success 100\.00%/);
      // Against a path that always fails, the check must say so with its exit code.
      const failing = Bun.spawn(
        [
          'bun',
          join(root, 'scripts/availability.ts'),
          '--url',
          `http://127.0.0.1:${port}`,
          '--path',
          '/nowhere',
          '--concurrency',
          '5',
          '--requests',
          '2',
        ],
        { stdout: 'pipe' },
      );
      const failed = await new Response(failing.stdout).text();
      expect(await failing.exited).toBe(1);
      expect(failed).toContain('failed: 10 × HTTP 404');
    } finally {
      await api.kill('SIGTERM');
      await redis.stop();
    }
  }, 60_000);
});
