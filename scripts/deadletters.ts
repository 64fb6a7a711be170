/**
 * `bun run deadletters list|show|replay|purge`: what the pipeline set aside, why, and putting it
 * back or away. Dead letters live in `<stream>:dead` (see README "Dead letters").
 */
import { parseArgs } from 'node:util';
import {
  type DeadLetterRecord,
  commonSettings,
  configOrExit,
  createLogger,
  createRedis,
  loadConfig,
  readDeadLetters,
  readingStreamsOf,
  alertStreamsOf,
  redisTargetOrExit,
  streamKeys,
  upgradeKeyLayout,
} from 'core';
import type Redis from 'ioredis';

const USAGE = `Usage: bun run deadletters <command> [flags]
  list                 the dead letters, oldest first: id, source, reason
  show ID              one dead letter whole, with the entry's original fields
  replay               put entries back on their source stream (both groups read them again;
                       storage and alerts are idempotent) and remove them from the dead letters
  purge                remove dead letters for good
Flags:
  --stream NAME        only the dead letters of this stream (default: READINGS_STREAM's partitions and ALERTS_STREAM)
  --reason TEXT        only those whose reason contains TEXT
  --id ID              only this dead letter (repeatable)
  --all                replay or purge every selected one (needed without --id or --reason)
  --limit N            list: at most N (default 50)
  -h, --help           this text
Redis from REDIS_URL (default redis://127.0.0.1:6379), or its primary through REDIS_SENTINELS.`;

function fail(message: string): never {
  console.error(`deadletters: ${message} (see --help)`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      stream: { type: 'string', multiple: true },
      reason: { type: 'string' },
      id: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  fail((error as Error).message.split('. ')[0] as string);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const [command, ...rest] = positionals;
if (!command) fail('a command is needed');
if (!['list', 'show', 'replay', 'purge'].includes(command)) fail(`unknown command ${JSON.stringify(command)}`);
const limit = values.limit === undefined ? 50 : Number(values.limit);
if (!Number.isInteger(limit) || limit < 1)
  fail(`--limit must be a positive whole number, got ${JSON.stringify(values.limit)}`);
const ids = new Set([...((values.id as string[] | undefined) ?? []), ...(command === 'show' ? rest : [])]);
if (command === 'show' && ids.size !== 1) fail('show takes exactly one dead-letter id');
const reason = values.reason as string | undefined;
if ((command === 'replay' || command === 'purge') && ids.size === 0 && reason === undefined && !values.all) {
  fail(`${command} needs --id, --reason or --all`);
}
// The pipeline's Redis as every service finds it: REDIS_URL, or the primary through REDIS_SENTINELS.
const settings = await configOrExit('deadletters', () => loadConfig(commonSettings, process.env));
// Every partition of the readings stream (STREAM_PARTITIONS), and of the alerts stream.
const streams = (values.stream as string[] | undefined) ?? [
  ...readingStreamsOf(settings).streams,
  ...alertStreamsOf(settings).streams,
];
const redis = createRedis(await redisTargetOrExit('deadletters', settings), {
  name: 'deadletters',
  failFast: true,
  commandTimeoutMs: 5_000,
  keyPrefix: settings.keyPrefix || undefined,
});

/** The selected dead letters of one stream (the first 100,000; a longer one is worked through in runs). */
async function selected(client: Redis, stream: string): Promise<DeadLetterRecord[]> {
  const all = await readDeadLetters(client, streamKeys(client, stream).dead, 100_000);
  return all.filter(
    (letter) => (ids.size === 0 || ids.has(letter.id)) && (reason === undefined || letter.reason.includes(reason)),
  );
}

try {
  await new Promise<void>((resolve, reject) => {
    if (redis.status === 'ready') resolve();
    redis.once('ready', () => resolve());
    redis.once('error', reject);
  });
  // Dead letters an earlier version wrote are read under their name now (key-layout.ts).
  await upgradeKeyLayout(redis, settings, createLogger({ service: 'deadletters', level: 'warn' }));
  // A Redis without the pipeline's streams would answer "0 dead letters" for any question: say
  // that it is the wrong Redis instead.
  const keys = streams.flatMap((stream) => [stream, streamKeys(redis, stream).dead]);
  // One EXISTS per key: on a Redis Cluster a command over keys of several slots is refused.
  const found = await Promise.all(keys.map((key) => redis.exists(key)));
  if (found.every((count) => count === 0)) {
    const where =
      settings.redisSentinels.length > 0
        ? `the primary of REDIS_SENTINELS=${settings.redisSentinels.map(({ host, port }) => `${host}:${port}`).join(',')}`
        : `REDIS_URL=${settings.redisUrl}`;
    throw new Error(
      `no pipeline in the Redis at ${where} (no ${streams.join(' or ')} stream): \`bun run start\` saves the Redis it runs as REDIS_URL in .env, where this command reads it; set REDIS_URL (and KEY_PREFIX) as the services have them`,
    );
  }
  let total = 0;
  for (const stream of streams) {
    const letters = await selected(redis, stream);
    if (command === 'list') {
      for (const letter of letters.slice(0, Math.max(0, limit - total))) {
        console.log(
          `${letter.id}  ${letter.stream}/${letter.group} entry ${letter.entryId}  ${letter.deadAt}  ${letter.reason}`,
        );
      }
    } else if (command === 'show') {
      for (const letter of letters) console.log(JSON.stringify(letter, null, 2));
    } else {
      for (const letter of letters) {
        if (command === 'replay' && letter.fields.length === 0) {
          console.error(
            `deadletters: ${letter.id} kept no fields (the entry was deleted before it was read): nothing to replay; purge it`,
          );
          continue;
        }
        const multi = redis.multi();
        // Back on its source stream (as a new entry) and off the dead letters, together.
        if (command === 'replay') multi.xadd(letter.stream || stream, '*', ...letter.fields);
        multi.xdel(streamKeys(redis, stream).dead, letter.id);
        await multi.exec();
      }
    }
    total += letters.length;
  }
  if (command === 'replay' || command === 'purge')
    console.log(`${command === 'replay' ? 'replayed' : 'purged'} ${total} dead letter${total === 1 ? '' : 's'}`);
  else if (command === 'list')
    console.log(
      `${total} dead letter${total === 1 ? '' : 's'}${total > limit ? ` (first ${limit} shown; --limit)` : ''}`,
    );
  else if (total === 0) {
    console.error(
      `deadletters: no dead letter ${[...ids][0]} in ${streams.map((s) => streamKeys(redis, s).dead).join(', ')}`,
    );
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`deadletters: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
