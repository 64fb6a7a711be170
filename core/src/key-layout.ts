import type Redis from 'ioredis';
import { splitAlertStateByPartition } from './alert-state-split.ts';
import { alertKeys, importKeys, pipelineKeys, streamKeys } from './keys.ts';
import type { Logger } from './logger.ts';
import { clusterMasters } from './cluster-masters.ts';
import { PartitionCountMismatchError, checkPartitionCount, readingStreams } from './partitions.ts';

/**
 * The layout of the keys this code reads and writes: 2 since keys.ts gave the keys used together a
 * hash tag, 3 since each partition's devices keep their alert state beside that partition of the
 * alerts stream (alert-state-split.ts). A Redis written by an earlier version is brought to it
 * once, by the first service that starts, before it reads or writes any key.
 */
export const KEY_LAYOUT = '3';

/** Held by the service bringing the keys to this layout; the others wait for it (at most this long). */
const UPGRADE_LOCK_MS = 60_000;

/** Another service is bringing the keys to this layout: try again shortly. */
export class KeyLayoutUpgradingError extends Error {
  override readonly name = 'KeyLayoutUpgradingError';
}

/** Layout 1's name of a key → its name now: fixed names, and families renamed by their start. */
interface Renames {
  keys: Array<[from: string, to: string]>;
  starts: Array<[from: string, to: string]>;
}

/**
 * Brings the keys of a Redis written by an earlier version to this layout, then records it, so
 * later starts read one key and go on. One service does it, holding a lock; the others get a
 * KeyLayoutUpgradingError until it is done (prepareKeysOrExit waits). From layout 1, each key is
 * renamed with RENAMENX (atomic; a stream's consumer groups go with it); a key found under both
 * names (an earlier version still running after the upgrade wrote it again) is left as it is and
 * logged: upgrade every service together. From layout 2, with STREAM_PARTITIONS above 1, the
 * alert state of every partition's devices moves beside that partition (alert-state-split.ts).
 * @returns how many keys were renamed and fields or members moved
 * @throws KeyLayoutUpgradingError while another service is at it
 */
export async function upgradeKeyLayout(
  redis: Redis,
  streams: { readingsStream: string; alertsStream: string; streamPartitions?: number },
  logger: Logger,
): Promise<number> {
  const found = await redis.get(pipelineKeys.layout);
  if (found === KEY_LAYOUT) return 0;
  const token = crypto.randomUUID();
  if ((await redis.set(pipelineKeys.layoutUpgrade, token, 'PX', UPGRADE_LOCK_MS, 'NX')) !== 'OK')
    throw new KeyLayoutUpgradingError('another service is bringing the keys to this version’s layout');
  try {
    // Done by the lock's last holder while this one waited for it?
    if ((await redis.get(pipelineKeys.layout)) === KEY_LAYOUT) return 0;
    const renamed = found === '2' ? 0 : await renameLayoutOne(redis, streams, logger);
    // Kept while the state moves (a large one takes more than the lock's time).
    const stillHeld = async () => {
      if ((await redis.eval(RENEW_LOCK, 1, pipelineKeys.layoutUpgrade, token, UPGRADE_LOCK_MS)) !== 1)
        throw new KeyLayoutUpgradingError('lost the key-layout upgrade lock to another service');
    };
    const moved = await splitAlertStateByPartition(
      redis,
      streams.alertsStream,
      streams.streamPartitions ?? 1,
      (starts) =>
        keysStartingWith(
          redis,
          starts.map((start) => [start, start]),
        ).then((pairs) => pairs.map(([key]) => key)),
      stillHeld,
    );
    await redis.set(pipelineKeys.layout, KEY_LAYOUT);
    if (renamed + moved > 0) logger.info('key_layout_upgraded', { layout: KEY_LAYOUT, renamed, moved });
    return renamed + moved;
  } finally {
    await redis.eval(RELEASE_LOCK, 1, pipelineKeys.layoutUpgrade, token);
  }
}

const RENEW_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Layout 1 → 2: each key renamed. */
async function renameLayoutOne(
  redis: Redis,
  streams: { readingsStream: string; alertsStream: string },
  logger: Logger,
): Promise<number> {
  const renames = layoutOneRenames(redis, streams);
  const pairs = [...renames.keys, ...(await keysStartingWith(redis, renames.starts))];
  let renamed = 0;
  for (const [from, to] of pairs) {
    const outcome = await rename(redis, from, to);
    if (outcome === 'renamed') renamed++;
    else if (outcome === 'both') logger.warn('key_layout_both_names', { key: from, now: to });
  }
  return renamed;
}

/**
 * RENAMENX where both names are in one slot (one Redis: always). A Redis Cluster refuses a rename
 * across slots even of a key that is not there, so each is looked for first, and one found there
 * is copied whole (DUMP/RESTORE keeps a stream's groups) and then deleted.
 */
async function rename(redis: Redis, from: string, to: string): Promise<'renamed' | 'both' | 'gone'> {
  if ((await redis.exists(from)) === 0) return 'gone';
  try {
    return (await redis.renamenx(from, to)) === 1 ? 'renamed' : 'both';
  } catch (error) {
    if (/no such key/i.test((error as Error).message)) return 'gone';
    if (!/CROSSSLOT/.test((error as Error).message)) throw error;
  }
  const dump = await redis.dumpBuffer(from);
  if (dump === null) return 'gone';
  try {
    await redis.restore(to, 0, dump);
  } catch (error) {
    if (/BUSYKEY/.test((error as Error).message)) return 'both';
    throw error;
  }
  await redis.del(from);
  return 'renamed';
}

/** What layout 1 called the keys that now carry a hash tag (those that kept their name are left out). */
function layoutOneRenames(redis: Redis, streams: { readingsStream: string; alertsStream: string }): Renames {
  const alerts = alertKeys(redis, streams.alertsStream);
  const a = streams.alertsStream;
  const imports = importKeys();
  const keys: Array<[string, string]> = [
    [`${streams.readingsStream}:dead`, streamKeys(redis, streams.readingsStream).dead],
    [`${a}:dead`, alerts.dead],
    [`${a}:acks`, alerts.acks],
    [`${a}:escalation:firing`, alerts.escalation.firing],
    [`${a}:escalation:raised`, alerts.escalation.raised],
    [`${a}:devices`, alerts.devices.records],
    [`${a}:devices:index`, alerts.devices.index],
    // An evaluator of the earlier version still holding it loses it, and stops evaluating.
    [`${a}:evaluator`, alerts.evaluatorLease],
    ['imports', imports.all],
    ['telemetry:workers', pipelineKeys.workers],
  ];
  const starts: Array<[string, string]> = [
    [`${a}:state:`, alerts.thresholdState('')],
    [`${a}:rate:`, alerts.rateState('')],
    [`${a}:window:`, alerts.windowState('')],
    [`${a}:absence:`, alerts.absence('').watch.slice(0, -':watch'.length)],
    ['imports:', imports.job('')],
  ];
  const changed = ([from, to]: [string, string]) => from !== to;
  return { keys: keys.filter(changed), starts: starts.filter(changed) };
}

/**
 * Every key that starts with one of the `from`s, paired with its new name: one SCAN over the
 * keyspace, of each master on a Redis Cluster (a SCAN sees one node's keys).
 */
async function keysStartingWith(redis: Redis, starts: Renames['starts']): Promise<Array<[string, string]>> {
  if (starts.length === 0) return [];
  // SCAN sees keys as stored, KEY_PREFIX included; RENAMENX puts it back before what it is given.
  const prefix = redis.options.keyPrefix ?? '';
  const pairs: Array<[string, string]> = [];
  for (const node of clusterMasters(redis) ?? [redis]) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1_000);
      cursor = next;
      for (const stored of found) {
        const key = stored.slice(prefix.length);
        const start = starts.find(([from]) => key.startsWith(from));
        if (start) pairs.push([key, start[1] + key.slice(start[0].length)]);
      }
    } while (cursor !== '0');
  }
  return pairs;
}

/** `text` as a SCAN pattern that matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/**
 * Gets a Redis ready for this code, tried again every second while it is away or refuses (a
 * fail-fast connection gives up at once): the keys brought to this layout (upgradeKeyLayout), and
 * the partition count checked against the pipeline's (partitions.ts). A service starts its work
 * once this resolves; on a count that differs it exits, naming both (nothing was read or written).
 */
export async function prepareKeysOrExit(
  redis: Redis,
  settings: { readingsStream: string; alertsStream: string; streamPartitions: number },
  logger: Logger,
): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      // The count first: the alert state is split by it.
      await checkPartitionCount(redis, readingStreams(settings.readingsStream, settings.streamPartitions));
      return await upgradeKeyLayout(redis, settings, logger);
    } catch (error) {
      if (error instanceof PartitionCountMismatchError) {
        logger.error('partitions_mismatch', { error: error.message });
        process.exit(1);
      }
      // Another service is at it, for a few ms on a Redis as the pipeline keeps it.
      if (error instanceof KeyLayoutUpgradingError) {
        await Bun.sleep(50);
        continue;
      }
      if (attempt === 0) logger.warn('key_layout_unchecked', { error: (error as Error).message, retryMs: 1_000 });
      await Bun.sleep(1_000);
    }
  }
}
