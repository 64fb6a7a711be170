/**
 * The docs a person finds stay true: every link between them leads somewhere, every setting the
 * code reads is in the configuration page, every curl names an endpoint the API has, and the
 * README's first-reading commands (curl, mosquitto_pub) work as pasted, against servers of the
 * test's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type Reading, checkRules, createRedis } from 'core';
import {
  type MosquittoServer,
  type RedisServer,
  type ServiceProcess,
  freePort,
  startMosquitto,
  startRedisServer,
  startService,
  streamReadings,
  waitFor,
} from 'core/testing';
import { parseOptions } from '../analysis/src/options.ts';
import { loadProducerConfig } from '../producer/src/config.ts';
import { knownSettings } from './known-settings.ts';
import { withSettingsTable } from './settings-table.ts';

const root = join(import.meta.dir, '..');
const pages = ['README.md', ...[...new Bun.Glob('docs/*.md').scanSync({ cwd: root })]];

/** The shell of the page's fenced block that holds `needle` (the README by default). */
async function shBlock(needle: string, page = 'README.md'): Promise<string> {
  const text = await Bun.file(join(root, page)).text();
  const block = [...text.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((match) => match[1] as string)
    .find((code) => code.includes(needle));
  if (!block) throw new Error(`no sh block in ${page} holds ${needle}`);
  return block;
}

/** Runs a pasted block in bash (stop at the first failure), with only PATH from this environment. */
function runPasted(script: string, cwd?: string) {
  const run = Bun.spawnSync(['bash', '-euo', 'pipefail', '-c', script], { cwd, env: { PATH: process.env.PATH ?? '' } });
  return { stdout: run.stdout.toString(), stderr: run.stderr.toString(), exitCode: run.exitCode };
}

/** Each command line of the docs' sh blocks that starts with `prefix`, as its arguments (comments cut). */
async function documentedCommands(prefix: string): Promise<string[][]> {
  const commands: string[][] = [];
  for (const page of pages) {
    const text = await Bun.file(join(root, page)).text();
    for (const [, block] of text.matchAll(/```sh\n([\s\S]*?)```/g))
      for (const line of (block as string).split('\n'))
        if (line.startsWith(prefix))
          commands.push(line.slice(prefix.length).split('#')[0]?.trim().split(/\s+/).filter(Boolean) ?? []);
  }
  return commands;
}

/** The readings in the `readings` stream of the Redis at `url`. */
async function streamedReadings(url: string): Promise<Reading[]> {
  const client = createRedis(url, { name: 'docs-test' });
  try {
    return await streamReadings(client, 'readings');
  } finally {
    client.disconnect();
  }
}

/** The one reading a pasted command sent: its device, metric, value and unit, dated while it ran. */
function expectSentReading(
  readings: Reading[],
  expected: [string, string, number, string],
  before: number,
  after: number,
) {
  expect(readings.map((reading) => [reading.deviceId, reading.metric, reading.value, reading.unit])).toEqual([
    expected,
  ]);
  const ts = readings[0]?.ts ?? 0;
  expect(ts >= before && ts <= after).toBe(true);
}

describe('the docs', () => {
  it('link only to files that exist', async () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = await Bun.file(join(root, page)).text();
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (match[1] as string).split('#')[0] as string;
        if (!target || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(resolve(root, dirname(page), target))) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('hold the settings table as the setting specs make it (bun run docs:settings)', async () => {
    const page = await Bun.file(join(root, 'docs/configuration.md')).text();
    expect(withSettingsTable(page)).toBe(page);
  });

  it('name every setting the code reads on the configuration page', async () => {
    const page = await Bun.file(join(root, 'docs/configuration.md')).text();
    expect([...knownSettings()].filter((name) => !page.includes(name)).sort()).toEqual([]);
  });

  it('show only rules that PUT /rules and ALERT_RULES take', async () => {
    const text = await Bun.file(join(root, 'docs/alerts.md')).text();
    const rules = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => JSON.parse(match[1] as string));
    expect(rules.length).toBeGreaterThan(1);
    expect(() => checkRules(rules, 'docs/alerts.md')).not.toThrow();
  });

  it('give Telegraf an output it knows, pointed at the API with its token', async () => {
    const text = await Bun.file(join(root, 'docs/devices-in.md')).text();
    const [, block] = /```toml\n([\s\S]*?)```/.exec(text) ?? [];
    const output = (Bun.TOML.parse(block as string) as { outputs: { influxdb_v2: Array<Record<string, unknown>> } })
      .outputs.influxdb_v2[0] as Record<string, unknown>;
    // The options of Telegraf's outputs.influxdb_v2 (its README's configuration).
    const known = new Set([
      'urls',
      'token',
      'organization',
      'bucket',
      'bucket_tag',
      'exclude_bucket_tag',
      'timeout',
      'http_headers',
      'http_proxy',
      'user_agent',
      'content_encoding',
      'influx_uint_support',
      'tls_ca',
      'tls_cert',
      'tls_key',
      'insecure_skip_verify',
    ]);
    expect(Object.keys(output).filter((key) => !known.has(key))).toEqual([]);
    expect(output).toMatchObject({ urls: ['http://127.0.0.1:3000'], token: '$API_TOKEN', content_encoding: 'gzip' });
  });

  it('give the producer and the analysis only flags they take, with values they accept', async () => {
    const producer = await documentedCommands('bun producer/src/index.ts');
    const analysis = await documentedCommands('bun run analysis');
    expect(producer.length).toBeGreaterThan(2);
    expect(analysis.length).toBeGreaterThan(2);
    for (const args of producer) expect(() => loadProducerConfig(args, {})).not.toThrow();
    for (const args of analysis) expect(() => parseOptions(args, {})).not.toThrow();
  });
});

describe('the event contract’s XADD examples, run with redis-cli as pasted', () => {
  it('write readings every consumer decodes', async () => {
    const redis = await startRedisServer();
    try {
      for (const needle of ['v 2 r', 'v 3 f']) {
        const block = await shBlock(needle, 'docs/event-contract.md');
        const run = runPasted(block.replaceAll('redis-cli ', `redis-cli -p ${redis.port} `));
        expect(run.stderr).toBe('');
        expect(run.exitCode).toBe(0);
      }
      const readings = await streamedReadings(redis.url);
      expect(readings.map((r) => [r.id.slice(-2), r.deviceId, r.metric, r.value, r.unit, r.ts])).toEqual([
        ['ab', 'device-001', 'kwh', 42.5, 'kWh', 1795300000123],
        ['ac', 'device-001', 'kwh', 42.5, 'kWh', 1795300000123],
        ['ad', 'device-002', 'kwh', 7, 'kWh', 1795300000125],
      ]);
    } finally {
      await redis.stop();
    }
  });
});

describe('the docs against an API of the test’s own', () => {
  let redis: RedisServer;
  let api: ServiceProcess;
  let dir: string;
  let base: string;
  beforeAll(async () => {
    redis = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), 'docs-test-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = startService(join(root, 'api/src/index.ts'), {
      REDIS_URL: redis.url,
      API_TOKEN: 'docs-token',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'docs.db'),
      LOG_LEVEL: 'warn',
    });
    await waitFor(
      () =>
        fetch(`${base}/health`).then(
          (r) => r.status < 500,
          () => false,
        ),
      { what: 'API' },
    );
  });
  afterAll(async () => {
    await api?.kill('SIGTERM');
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('name only endpoints the API has: every curl of the docs, by method and path, is in its OpenAPI document', async () => {
    const openapi = (await (await fetch(`${base}/openapi/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(openapi.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), segments: path.split('/') })),
    );
    const known = (method: string, path: string) => {
      const segments = path.split('/');
      return routes.some(
        (route) =>
          route.method === method &&
          route.segments.length === segments.length &&
          route.segments.every((part, i) => part.startsWith('{') || part === segments[i]),
      );
    };
    const unknown: string[] = [];
    let checked = 0;
    for (const page of pages) {
      // A command is its lines joined where they end in a backslash.
      const text = (await Bun.file(join(root, page)).text()).replaceAll('\\\n', ' ');
      for (const line of text.split('\n').filter((l) => /^\s*(\S+=\S+\s+)?curl /.test(l))) {
        const url = /(?:https?:\/\/)?(?:localhost|127\.0\.0\.1):3000(\/[^\s'"?]*)/.exec(line)?.[1];
        if (!url) continue;
        const method = /-X\s+([A-Z]+)/.exec(line)?.[1] ?? (/\s(-d|--data\S*|-F|-T)\s/.test(line) ? 'POST' : 'GET');
        checked += 1;
        if (!known(method, url)) unknown.push(`${page}: ${method} ${url}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('the README’s first reading over HTTP, as pasted, is accepted: the token read from .env, the reading dated now', async () => {
    // The .env `bun run start` writes, in a folder of the test's own; the README's URL is this API's.
    await Bun.write(join(dir, '.env'), 'API_TOKEN=\n# Generated by bun run start\nAPI_TOKEN=docs-token\n');
    const script = (await shBlock('/ingest')).replaceAll('http://127.0.0.1:3000', base);
    // `date` in the block gives whole seconds: the reading's time lies between these two.
    const before = Math.floor(Date.now() / 1_000) * 1_000;
    const run = runPasted(script, dir);
    const after = Date.now();
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ accepted: 1 });
    expectSentReading(await streamedReadings(redis.url), ['pump-7', 'temp', 21.5, '°C'], before, after);
  });

  it('the HTTP API page’s reading commands, as pasted, each answer without an error and do what they say', async () => {
    await Bun.write(join(dir, '.env'), 'API_TOKEN=docs-token\n');
    const script = (await shBlock('/readings/batch', 'docs/http-api.md')).replaceAll('localhost:3000', base);
    const run = runPasted(script, dir);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).not.toContain('"error"');
    // The export ran before the PATCH and DELETE: it holds both readings as first written.
    const exported = await Bun.file(join(dir, 'readings.csv')).text();
    expect(exported).toContain('r-1,pump-1,temp,22,');
    expect((await fetch(`${base}/readings/r-1`)).status).toBe(404);
    const latest = (await (await fetch(`${base}/readings?deviceId=pump-1`)).json()) as {
      readings: Array<{ value: number }>;
    };
    expect(latest.readings.map((reading) => reading.value)).toEqual([21.5]);
  });
});

describe('the README’s first reading over MQTT, as pasted', () => {
  let broker: MosquittoServer;
  let redis: RedisServer;
  let ingest: ServiceProcess;
  beforeAll(async () => {
    [broker, redis] = await Promise.all([startMosquitto(), startRedisServer()]);
    ingest = startService(join(root, 'ingest-mqtt/src/index.ts'), {
      REDIS_URL: redis.url,
      MQTT_URL: broker.url,
      MQTT_CLIENT_ID: 'docs-test-ingest',
    });
    await waitFor(() => ingest.output().includes('"subscribed"'), { what: 'ingest-mqtt subscribed' });
  });
  afterAll(async () => {
    await ingest?.kill('SIGTERM');
    await broker?.stop();
    await redis?.stop();
  });

  it('reaches the stream, dated now', async () => {
    // The README's broker is the machine's; this one is the test's own.
    const { port } = new URL(broker.url);
    const script = (await shBlock('mosquitto_pub')).replaceAll(
      'mosquitto_pub ',
      `mosquitto_pub -h 127.0.0.1 -p ${port} `,
    );
    // `date` in the block gives whole seconds: the reading's time lies between these two.
    const before = Math.floor(Date.now() / 1_000) * 1_000;
    const run = runPasted(script);
    const after = Date.now();
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const readings = await waitFor(
      async () => {
        const found = await streamedReadings(redis.url);
        return found.length > 0 && found;
      },
      { what: 'the MQTT reading in the stream' },
    );
    expectSentReading(readings, ['pump-7', 'temp', 22, '°C'], before, after);
  });

  it('the devices page’s examples, one reading and a batch, reach the stream as written', async () => {
    const { port } = new URL(broker.url);
    const script = (await shBlock('mosquitto_pub', 'docs/devices-in.md')).replaceAll(
      'mosquitto_pub ',
      `mosquitto_pub -h 127.0.0.1 -p ${port} `,
    );
    const run = runPasted(script);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const dated = Date.parse('2026-11-26T10:00:00Z');
    const readings = await waitFor(
      async () => {
        const found = (await streamedReadings(redis.url)).filter((reading) => reading.ts === dated);
        return found.length === 3 && found;
      },
      { what: 'the three MQTT readings in the stream' },
    );
    expect(readings.map((reading) => [reading.deviceId, reading.metric, reading.value, reading.unit])).toEqual([
      ['pump-7', 'kwh', 42.5, 'kWh'],
      ['pump-7', 'kwh', 1, 'kWh'],
      ['pump-7', 'temp', 21, '°C'],
    ]);
  });
});
