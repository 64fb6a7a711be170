import type Redis from 'ioredis';
import { alertKeys } from './keys.ts';
import { partitionOf, readingStreams } from './partitions.ts';

/** Fields or members moved per command: a few ms of Redis each. */
const PAGE = 1_000;

/** Which device a field or member of a state key belongs to. */
type DeviceOf = (member: string) => string;
/** `device` or `device|metric` (the rule states, absence watches, the registry). */
const deviceFirst: DeviceOf = (member) => member.split('|')[0] as string;
/** `rule|device` (acknowledgements, escalation). */
const deviceSecond: DeviceOf = (member) => member.slice(member.indexOf('|') + 1);

/**
 * Layout 2 kept every device's alert state beside the alerts stream itself, whatever its
 * partition; layout 3 keeps it beside the device's partition of the alerts stream (keys.ts
 * `alertKeys`, partitions.ts `alertStreamOf`), so that each partition's evaluation touches one
 * slot of its own. With more than one partition, each field or member of another partition's
 * device is moved to that partition's key of the same name: written there, then removed here
 * (a kill in between leaves it in both, and the next run moves it again, unchanged). What
 * follows up per partition (rules known, silences followed up) is copied to each. Keys of
 * partition 0 stay where they are. The caller holds the upgrade lock, nothing evaluating
 * meanwhile, and keeps it through `stillHeld` (called between pages; it throws once lost).
 * @returns how many fields and members moved
 */
export async function splitAlertStateByPartition(
  redis: Redis,
  alertsStream: string,
  partitions: number,
  keysStartingWith: (starts: string[]) => Promise<string[]>,
  stillHeld: () => Promise<void>,
): Promise<number> {
  if (partitions <= 1) return 0;
  const base = alertKeys(redis, alertsStream);
  const streams = readingStreams(alertsStream, partitions).streams;
  const targets = streams.map((stream) => alertKeys(redis, stream));
  /** A family's keys here, and how each is named in partition `p`. */
  const families: Array<{ start: string; to: (p: number) => string; deviceOf: DeviceOf }> = [
    { start: base.thresholdState(''), to: (p) => targets[p]?.thresholdState('') as string, deviceOf: deviceFirst },
    { start: base.rateState(''), to: (p) => targets[p]?.rateState('') as string, deviceOf: deviceFirst },
    { start: base.windowState(''), to: (p) => targets[p]?.windowState('') as string, deviceOf: deviceFirst },
    { start: absenceStart(base), to: (p) => absenceStart(targets[p] as typeof base), deviceOf: deviceFirst },
  ];
  const moves: Array<{ from: string; to: (p: number) => string; deviceOf: DeviceOf }> = [
    { from: base.acks, to: (p) => targets[p]?.acks as string, deviceOf: deviceSecond },
    { from: base.escalation.firing, to: (p) => targets[p]?.escalation.firing as string, deviceOf: deviceSecond },
    { from: base.escalation.raised, to: (p) => targets[p]?.escalation.raised as string, deviceOf: deviceSecond },
    { from: base.devices.records, to: (p) => targets[p]?.devices.records as string, deviceOf: deviceFirst },
    { from: base.devices.index, to: (p) => targets[p]?.devices.index as string, deviceOf: deviceFirst },
  ];
  for (const key of await keysStartingWith(families.map((family) => family.start))) {
    const family = families.find(({ start }) => key.startsWith(start));
    if (family)
      moves.push({ from: key, to: (p) => family.to(p) + key.slice(family.start.length), deviceOf: family.deviceOf });
  }
  let moved = 0;
  for (const move of moves)
    moved += await moveByDevice(redis, move.from, move.to, move.deviceOf, partitions, stillHeld);
  const copied: Array<(keys: typeof base) => string> = [(keys) => keys.rulesKnown, (keys) => keys.silencesFollowed];
  for (const keyOf of copied) {
    const fields = Object.entries(await redis.hgetall(keyOf(base))).flat();
    if (fields.length > 0) for (const target of targets.slice(1)) await redis.hset(keyOf(target), ...fields);
  }
  return moved;
}

/** An absence rule's keys start with this (its id and `:watch`, `:newest`… follow). */
function absenceStart(keys: ReturnType<typeof alertKeys>): string {
  return keys.absence('').watch.slice(0, -':watch'.length);
}

/** The fields (hash) or members (sorted set) of `from` whose device is in another partition, moved there. */
async function moveByDevice(
  redis: Redis,
  from: string,
  to: (partition: number) => string,
  deviceOf: DeviceOf,
  partitions: number,
  stillHeld: () => Promise<void>,
): Promise<number> {
  const type = await redis.type(from);
  if (type !== 'hash' && type !== 'zset') return 0;
  let moved = 0;
  let cursor = '0';
  do {
    await stillHeld();
    // [member, value] pairs: a hash's field and value, a sorted set's member and score.
    const [next, flat] =
      type === 'hash' ? await redis.hscan(from, cursor, 'COUNT', PAGE) : await redis.zscan(from, cursor, 'COUNT', PAGE);
    cursor = next;
    const byPartition = new Map<number, string[]>();
    for (let index = 0; index < flat.length; index += 2) {
      const member = flat[index] as string;
      const partition = partitionOf(deviceOf(member), partitions);
      if (partition === 0) continue;
      const pairs = byPartition.get(partition) ?? [];
      // HSET takes field, value; ZADD takes score, member.
      if (type === 'hash') pairs.push(member, flat[index + 1] as string);
      else pairs.push(flat[index + 1] as string, member);
      byPartition.set(partition, pairs);
    }
    for (const [partition, pairs] of byPartition) {
      const members = type === 'hash' ? pairs.filter((_, i) => i % 2 === 0) : pairs.filter((_, i) => i % 2 === 1);
      if (type === 'hash') await redis.hset(to(partition), ...pairs);
      else await redis.zadd(to(partition), ...pairs);
      if (type === 'hash') await redis.hdel(from, ...members);
      else await redis.zrem(from, ...members);
      moved += members.length;
    }
  } while (cursor !== '0');
  return moved;
}
