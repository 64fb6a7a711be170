/**
 * `bun run start` (after `bun install`, which the root script runs): the whole pipeline on this
 * machine with one command. Runs a redis-server of its own (AOF on, data in data/redis/, or
 * DATA_DIR) unless REDIS_URL is set, whose persistence it then checks; makes an API_TOKEN
 * into .env when there is none; runs api, consumer-store, consumer-alert and the producer, restarting any that
 * crashes; Ctrl-C stops everything (and the Redis it started).
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ROOT_ENV_FILE, misspeltSettings, parseCli, parseEnvFile } from 'core';
import Redis from 'ioredis';
import { rememberSetting } from './env-file.ts';
import { knownSettings } from './known-settings.ts';
import { type LocalRedisHa, startLocalRedisHa } from './local-redis-ha.ts';
import { redisDurability } from './redis-durability.ts';
import { type PipelineFigures, readFigures, summaryLine } from './start-summary.ts';
import { BAD_CONFIGURATION_EXIT, supervise } from './supervisor.ts';

const { values: flags } = parseCli({
  name: 'start',
  usage: `Usage: bun run start [--ha]
  Runs the whole pipeline on this machine: its own Redis (AOF, data in data/redis/) unless
  REDIS_URL is set, the API, consumer-store, consumer-alert, the producer and, when a broker
  answers at MQTT_URL, ingest-mqtt; makes an API_TOKEN into .env, and saves the Redis it runs
  there as REDIS_URL, so that every other command finds the same one; Ctrl-C stops everything.
  Its own Redis goes on the first of START_REDIS_PORTS (default 6379,6380) where no other
  Redis answers.
  --ha   a Redis primary, two replicas and three Sentinels of its own instead (data in
         data/redis-ha/, made afresh), every service through the Sentinels: for trying failover
         here (kill -9 the primary and watch the pipeline go on).`,
  options: { ha: { type: 'boolean' } },
});

const root = resolve(import.meta.dir, '..');
const say = (line: string) => console.log(`\x1b[1m▸\x1b[0m ${line}`);
const SUMMARY_EVERY_MS = 60_000;

const port = Number(process.env.PORT || 3000);
// The .env every command reads (the repository's, or ENV_FILE): what start chooses, the others find.
const envFile = ROOT_ENV_FILE;
// A misspelt key there is read by nobody, and the setting it meant keeps its default silently.
const envKeys = existsSync(envFile) ? parseEnvFile(await Bun.file(envFile).text()).keys() : [];
for (const { key, meant } of misspeltSettings(envKeys, knownSettings())) {
  console.error(
    `\x1b[1;31m▸ ${envFile}: ${key} is no setting of this pipeline — did you mean ${meant}? Nothing reads ${key}; ${meant} keeps its default\x1b[0m`,
  );
}
const redisDir = join(process.env.DATA_DIR || join(root, 'data'), 'redis');
let redisChild: ReturnType<typeof Bun.spawn> | undefined;

/** Who answers at `url`: nobody, the Redis this script runs (its data in redisDir), or another. */
async function whoAnswers(url: string): Promise<'nobody' | 'ours' | 'another'> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    if ((await client.ping()) !== 'PONG') return 'nobody';
    const dir = ((await client.config('GET', 'dir').catch(() => [])) as string[])[1];
    // Redis reports the directory it changed into: the real path.
    return existsSync(redisDir) && dir === realpathSync(redisDir) ? 'ours' : 'another';
  } catch {
    return 'nobody';
  } finally {
    client.disconnect();
  }
}

async function startOwnRedis(url: string): Promise<void> {
  if (!Bun.which('redis-server')) {
    console.error(
      [
        `No Redis answers at ${url}, and redis-server is not installed. Get one of:`,
        '  Debian/Ubuntu:  sudo apt-get install redis-server',
        '  macOS:          brew install redis',
        '  Docker:         docker run -d -p 6379:6379 redis:8.2 --appendonly yes',
        'or point REDIS_URL at a Redis you have, then run `bun run start` again.',
      ].join('\n'),
    );
    process.exit(1);
  }
  const { hostname, port } = new URL(url);
  mkdirSync(redisDir, { recursive: true });
  say(`starting redis-server on ${url} (AOF on, data in ${redisDir})`);
  // A session of its own (detached: setsid(), with no setsid program needed — macOS has none), so
  // the terminal's Ctrl-C reaches the services first, and Redis is stopped last, after they have
  // acked what they hold.
  redisChild = Bun.spawn(
    [
      'redis-server',
      '--port',
      port || '6379',
      '--bind',
      hostname || '127.0.0.1',
      '--dir',
      redisDir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdout: 'ignore', stderr: 'inherit', detached: true },
  );
  const deadline = Date.now() + 10_000;
  while ((await whoAnswers(url)) !== 'ours') {
    if (Date.now() > deadline || redisChild.exitCode !== null) {
      console.error(`redis-server did not start on ${url}; is the port taken by something else?`);
      process.exit(1);
    }
    await Bun.sleep(100);
  }
}

/**
 * REDIS_URL set: that Redis, checked for what a restart of it would lose (said loudly when it is
 * anything), or, when nothing answers at a local address, a redis-server of our own there.
 * REDIS_URL unset: a Redis of our own, with AOF, on 6379 — or 6380 when another Redis (a cache,
 * a shared dev server) already answers on 6379; it is never used for the pipeline's data.
 */
async function chooseRedis(): Promise<string> {
  const explicit = process.env.REDIS_URL;
  if (explicit) {
    const who = await whoAnswers(explicit);
    if (who === 'nobody') {
      const { hostname } = new URL(explicit);
      if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname)) {
        console.error(
          `No Redis answers at REDIS_URL=${explicit}. Start it, or leave REDIS_URL unset and \`bun run start\` runs a Redis of its own.`,
        );
        process.exit(1);
      }
      await startOwnRedis(explicit);
      return explicit;
    }
    const client = new Redis(explicit, { maxRetriesPerRequest: 1, connectTimeout: 1_000 });
    client.on('error', () => {});
    const { durability, say: what } = await redisDurability(client).finally(() => client.disconnect());
    if (durability === 'aof') say(`using the Redis at ${explicit}: ${what}`);
    else console.error(`\x1b[1;31m▸ using the Redis at ${explicit}: ${what}\x1b[0m`);
    return explicit;
  }
  const ports = (process.env.START_REDIS_PORTS || '6379,6380').split(',').map((text) => text.trim());
  if (ports.some((text) => !/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65_535)) {
    console.error(
      `START_REDIS_PORTS must be ports separated by commas (default 6379,6380), got ${JSON.stringify(process.env.START_REDIS_PORTS)}`,
    );
    process.exit(2);
  }
  for (const candidate of ports.map((text) => `redis://127.0.0.1:${text}`)) {
    const who = await whoAnswers(candidate);
    if (who === 'ours') {
      say(`using this pipeline's own Redis, still running on ${candidate} (data in ${redisDir})`);
      return candidate;
    }
    if (who === 'nobody') {
      await startOwnRedis(candidate);
      return candidate;
    }
    say(`another Redis answers on ${candidate}; leaving it alone`);
  }
  console.error(
    `Every port of ${ports.join(', ')} is taken by another Redis: set REDIS_URL to a Redis this pipeline may use (or START_REDIS_PORTS).`,
  );
  process.exit(1);
}

let localHa: LocalRedisHa | undefined;
if (flags.ha) {
  if (!Bun.which('redis-server')) {
    console.error(
      '--ha runs redis-server processes of its own: install it (Debian/Ubuntu: sudo apt-get install redis-server).',
    );
    process.exit(1);
  }
  localHa = await startLocalRedisHa(process.env.DATA_DIR || join(root, 'data'));
  say(`Redis for redundancy: ${localHa.describe()}`);
  say(`other commands reach it with REDIS_SENTINELS=${localHa.sentinels}`);
}
const redisUrl = localHa ? 'redis://127.0.0.1:6379' : await chooseRedis();
if (
  !process.env.REDIS_URL &&
  !localHa &&
  (await rememberSetting(
    envFile,
    'REDIS_URL',
    redisUrl,
    "Saved by bun run start: the pipeline's own Redis, where every other command finds it.",
  ))
) {
  say(`saved REDIS_URL=${redisUrl} into .env: the producer, status, deadletters and token use this Redis too`);
}

let apiToken = process.env.API_TOKEN;
if (!apiToken) {
  apiToken = randomBytes(24).toString('base64url');
  await rememberSetting(envFile, 'API_TOKEN', apiToken, 'Generated by bun run start: writes to the API need it.');
  say('generated API_TOKEN into .env (the API and consumer-store share it)');
}

// Device tokens (`bun run token`) need a signing secret the API shares: one is made the first time,
// unless Ed25519 keys are configured instead.
let tokenSecret = process.env.TOKEN_SECRET;
if (!tokenSecret && !process.env.TOKEN_PUBLIC_KEY) {
  tokenSecret = randomBytes(32).toString('base64');
  await rememberSetting(
    envFile,
    'TOKEN_SECRET',
    tokenSecret,
    'Generated by bun run start: signs device tokens (bun run token); the API checks them.',
  );
  say('generated TOKEN_SECRET into .env (device tokens: bun run token --device <id> --scope ingest)');
}

const dataDir = process.env.DATA_DIR;
const shared = {
  ...(tokenSecret ? { TOKEN_SECRET: tokenSecret } : {}),
  ...(dataDir && !process.env.DATABASE_URL ? { DATABASE_URL: join(dataDir, 'telemetry.db') } : {}),
  API_TOKEN: apiToken,
  REDIS_URL: redisUrl,
  ...(localHa ? { REDIS_SENTINELS: localHa.sentinels } : {}),
  API_URL: process.env.API_URL || `http://127.0.0.1:${port}`,
  ...(process.stdout.isTTY ? { LOG_FORMAT: 'pretty' } : {}),
  // The terminal shows warnings, errors and alerts; the services' periodic status lines give way
  // to start's one summary a minute (LOG_LEVEL=info brings them back).
  ...(process.env.LOG_LEVEL ? {} : { LOG_LEVEL: 'warn' }),
};
/**
 * A restarted worker keeps its consumer name, so it first finishes the entries it had read before
 * the crash, in stream order. (Under a new name they would wait CLAIM_IDLE_MS to be taken over
 * while newer readings went ahead, and an alert could be announced at a later reading.)
 */
const stableName = (service: string) =>
  process.env.CONSUMER_NAME ? {} : { CONSUMER_NAME: `${hostname()}-${service}` };
/** True when something accepts TCP connections at an MQTT broker's address. */
async function brokerAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  try {
    const socket = await Bun.connect({
      hostname: hostname.replace(/^\[|\]$/g, ''),
      port: Number(port || 1883),
      socket: { data() {} },
    });
    socket.end();
    return true;
  } catch {
    return false;
  }
}
const mqttUrl = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883';
const withMqtt = await brokerAnswers(mqttUrl);
say(
  withMqtt
    ? `MQTT broker at ${mqttUrl}: devices publish to telemetry/<device id>`
    : `no MQTT broker at ${mqttUrl}: ingest-mqtt not started (apt-get install mosquitto, or set MQTT_URL)`,
);

const base = `http://127.0.0.1:${port}`;
/** True when the API answers /health (whatever the pipeline's state). */
const apiAnswers = () =>
  fetch(`${base}/health`).then(
    (response) => response.status < 500,
    () => false,
  );
/** Resolves once the API answers, or after a minute (the others then start and say why they wait). */
const apiUp = (async () => {
  for (let attempt = 0; attempt < 120 && !(await apiAnswers()); attempt++) await Bun.sleep(500);
})();
const supervisor = supervise(
  [
    { name: 'api', command: ['bun', join(root, 'api/src/index.ts')], env: shared, colour: '\x1b[35m' },
    {
      name: 'consumer-store',
      command: ['bun', join(root, 'consumer-store/src/index.ts')],
      env: { ...shared, ...stableName('consumer-store') },
      startAfter: apiUp,
      colour: '\x1b[32m',
    },
    {
      name: 'consumer-alert',
      command: ['bun', join(root, 'consumer-alert/src/index.ts')],
      env: { ...shared, ...stableName('consumer-alert') },
      startAfter: apiUp,
      colour: '\x1b[33m',
    },
    {
      name: 'producer',
      command: ['bun', join(root, 'producer/src/index.ts')],
      env: shared,
      startAfter: apiUp,
      colour: '\x1b[34m',
    },
    ...(withMqtt
      ? [
          {
            name: 'ingest-mqtt',
            command: ['bun', join(root, 'ingest-mqtt/src/index.ts')],
            env: { ...shared, MQTT_URL: mqttUrl },
            startAfter: apiUp,
            colour: '\x1b[36m',
          },
        ]
      : []),
  ],
  undefined,
  // A setting a service refuses stops everything: the pipeline is not running, whatever the URLs said.
  (service) => {
    console.error(
      `\x1b[1;31m▸ ${service} refused its configuration (the line above names the setting): fix it in .env or the environment, then run \`bun run start\` again\x1b[0m`,
    );
    void stop(BAD_CONFIGURATION_EXIT);
  },
);

say(`dashboard ${base}/`);
say(`API      ${base}/readings/latest`);
say(`OpenAPI  ${base}/openapi`);
say(`health   ${base}/health`);
say(`metrics  ${base}/metrics`);
say('Ctrl-C stops everything');

let stopping = false;
async function stop(exitCode = 0) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  await supervisor.stop();
  if (redisChild) {
    redisChild.kill('SIGTERM');
    await redisChild.exited;
  }
  await localHa?.stop();
  process.exit(exitCode);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

// The URLs once more when the API answers: by then the services' start-up lines have scrolled the
// first ones away. Then a summary each minute.
void (async () => {
  await apiUp;
  if (!stopping && (await apiAnswers()))
    say(`ready: dashboard ${base}/ · API ${base}/openapi · Ctrl-C stops everything`);
  let before: PipelineFigures | undefined;
  while (!stopping) {
    await Bun.sleep(SUMMARY_EVERY_MS);
    const now = await readFigures(base);
    if (stopping) return;
    say(now ? summaryLine(now, before) : `the API does not answer at ${base}`);
    before = now;
  }
})();
