import type Redis from 'ioredis';

export interface GroupState {
  name: string;
  consumers: number;
  pending: number;
  /** Entries not yet delivered to the group (null when Redis cannot tell, after deletions). */
  lag: number | null;
  lastDeliveredId: string;
}

/** XINFO GROUPS as objects (Redis 7.0 fields). */
export async function readGroups(redis: Redis, stream: string): Promise<GroupState[]> {
  const groups = (await redis.call('XINFO', 'GROUPS', stream)) as Array<Array<string | number | null>>;
  return groups.map((flat) => {
    const info: Record<string, string | number | null> = {};
    for (let i = 0; i < flat.length; i += 2) info[String(flat[i])] = flat[i + 1] ?? null;
    return {
      name: String(info.name),
      consumers: Number(info.consumers),
      pending: Number(info.pending),
      lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
      lastDeliveredId: String(info['last-delivered-id']),
    };
  });
}
