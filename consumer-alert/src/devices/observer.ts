import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConsumerEntry, MAX_DEVICE_METRICS, type Reading, alertKeys, entryTimes } from 'core';
import type Redis from 'ioredis';

const OBSERVE = readFileSync(join(import.meta.dir, '../lua/observe-devices.lua'), 'utf8');

type ObservingRedis = Redis & {
  observeDevices(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
};

/**
 * Devices as things (core's device-registry.ts), kept by the `alerts` group's handler: each batch
 * applied in one script call (lua/observe-devices.lua) with the newest reading of each device and
 * metric in it, before the batch is acknowledged.
 */
export function createDeviceObserver(options: {
  redis: Redis;
  alertsStream: string;
  lease?: { key: string; token: string };
}) {
  const { lease } = options;
  const keys = alertKeys(options.redis, options.alertsStream).devices;
  if (!('observeDevices' in options.redis)) options.redis.defineCommand('observeDevices', { lua: OBSERVE });
  const redis = options.redis as ObservingRedis;

  return {
    /** How many devices the batch made known, or `lease lost`. */
    async observe(batch: ReadonlyArray<ConsumerEntry<Reading>>): Promise<number | 'lease lost'> {
      // The newest and earliest reading of each device and metric: what the script needs, a few per device.
      const byMember = new Map<string, { reading: Reading; seen: number; earliest: number }>();
      const arrivalOf = entryTimes();
      for (const { entryId, value: reading } of batch) {
        const seen = Math.min(reading.ts, arrivalOf(entryId));
        const member = `${reading.deviceId}|${reading.metric}`;
        const known = byMember.get(member);
        if (!known) byMember.set(member, { reading, seen, earliest: seen });
        else {
          if (seen >= known.seen) Object.assign(known, { reading, seen });
          if (seen < known.earliest) known.earliest = seen;
        }
      }
      if (byMember.size === 0) return 0;
      const readings = [...byMember.values()].map(({ reading, seen, earliest }) => [
        reading.deviceId,
        reading.metric,
        String(reading.value),
        reading.unit,
        reading.ts,
        seen,
        reading.id,
        earliest,
      ]);
      const answer = await redis.observeDevices(
        lease ? 3 : 2,
        keys.records,
        keys.index,
        ...(lease ? [lease.key] : []),
        JSON.stringify(readings),
        lease?.token ?? '',
        String(MAX_DEVICE_METRICS),
      );
      return answer === '!' ? 'lease lost' : Number(answer);
    },
  };
}
