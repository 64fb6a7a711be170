import type Redis from 'ioredis';

export interface GroupState {
  name: string;
  consumers: number;
  pending: number;
  /** Entries not yet delivered to the group (null when Redis cannot tell, after deletions). */
  lag: number | null;
  lastDeliveredId: string;
}

export interface ConsumerState {
  name: string;
  pending: number;
  /** Milliseconds since the consumer last read or claimed. */
  idle: number;
}

/** A flat `[name, value, name, value, ...]` reply as an object. */
function pairs(flat: ReadonlyArray<unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}

const missingStream = (error: unknown) => String((error as Error).message).includes('no such key');

/** XINFO GROUPS as objects (Redis 7.0 fields); a stream that does not exist has no groups. */
export async function readGroups(redis: Redis, stream: string): Promise<GroupState[]> {
  let groups: unknown[][];
  try {
    groups = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
  } catch (error) {
    if (missingStream(error)) return [];
    throw error;
  }
  return groups.map((flat) => {
    const info = pairs(flat);
    return {
      name: String(info.name),
      consumers: Number(info.consumers),
      pending: Number(info.pending),
      lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
      lastDeliveredId: String(info['last-delivered-id']),
    };
  });
}

/**
 * True when each named group has read up to the stream's newest entry and acknowledged everything:
 * the work is done. Compared with the newest id rather than `lag`, which Redis stops reporting
 * after trims. An empty stream counts as caught up for groups that exist.
 */
export async function groupsCaughtUp(redis: Redis, stream: string, names: readonly string[]): Promise<boolean> {
  const [groups, newest] = await Promise.all([
    readGroups(redis, stream),
    redis.xrevrange(stream, '+', '-', 'COUNT', 1),
  ]);
  const lastId = newest[0]?.[0] ?? '0-0';
  return names.every((name) =>
    groups.some((group) => group.name === name && group.pending === 0 && group.lastDeliveredId === lastId),
  );
}

/** XINFO CONSUMERS as objects. */
export async function readConsumers(redis: Redis, stream: string, group: string): Promise<ConsumerState[]> {
  const consumers = (await redis.call('XINFO', 'CONSUMERS', stream, group)) as unknown[][];
  return consumers.map((flat) => {
    const info = pairs(flat);
    return { name: String(info.name), pending: Number(info.pending), idle: Number(info.idle) };
  });
}
