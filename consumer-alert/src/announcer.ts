import { ALERT_VERSION, alertKeys, newEventId } from 'core';
import type Redis from 'ioredis';
import { decodeThresholdState, withStateCodec } from './threshold-state.ts';

const ANNOUNCE = withStateCodec('announce-firing.lua');
/** Devices per script call: a few ms of Redis at most. */
const DEVICES_PER_CALL = 500;

type AnnouncingRedis = Redis & { announceFiring(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number> };

/** A device's state as the evaluator keeps it (threshold-state.ts). */
export interface DeviceState {
  device: string;
  state: string;
  metric: string;
}

const parseState = (device: string, packed: string): DeviceState => {
  const decoded = decodeThresholdState(packed);
  return { device, state: decoded?.state ?? '', metric: decoded?.metric ?? '' };
};

/** The lease's token was not this instance's: another instance announces now. */
export class NotLeadingError extends Error {
  override readonly name = 'NotLeadingError';
}

/**
 * Alerts for devices still firing on a rule, raised by something other than a reading: a rule
 * removed (they resolve: `retire`) or a silence ended (they are notified once more: `remind`).
 * Walks the rule's states with HSCAN, so a rule on 100,000 devices never blocks Redis; the script
 * checks each device's state as it announces. Only the evaluator announces (the lease fences it).
 */
export function createAnnouncer(options: {
  redis: Redis;
  alertsStream: string;
  lease: { key: string; token: string };
}) {
  const { alertsStream, lease } = options;
  if (!('announceFiring' in options.redis)) options.redis.defineCommand('announceFiring', { lua: ANNOUNCE });
  const redis = options.redis as AnnouncingRedis;
  // The keys it touches, named once (keys.ts).
  const names = alertKeys(redis, alertsStream);

  return {
    /** Announces the firing devices `select` picks; returns how many were announced. */
    async announce(
      rule: { id: string; threshold: number; severity: string },
      mode: 'retire' | 'remind',
      note: string,
      select: (state: DeviceState) => boolean = () => true,
    ): Promise<number> {
      const key = names.thresholdState(rule.id);
      let announced = 0;
      let cursor = '0';
      // HSCAN may return a field twice (the hash was resized meanwhile): each device once.
      const seen = new Set<string>();
      do {
        const [next, flat] = await redis.hscan(key, cursor, 'COUNT', DEVICES_PER_CALL);
        cursor = next;
        const devices: string[] = [];
        for (let i = 0; i < flat.length; i += 2) {
          const state = parseState(flat[i] as string, flat[i + 1] as string);
          if (seen.has(state.device)) continue;
          seen.add(state.device);
          if (mode === 'retire' || (state.state === 'firing' && select(state))) devices.push(state.device);
        }
        if (devices.length === 0) continue;
        const count = await redis.announceFiring(
          3,
          alertsStream,
          key,
          lease.key,
          ALERT_VERSION,
          `${newEventId()}.`,
          rule.id,
          String(rule.threshold),
          rule.severity,
          mode,
          note,
          String(Date.now()),
          JSON.stringify(devices),
          lease.token,
        );
        if (count < 0) throw new NotLeadingError('the evaluator lease is another instance’s now');
        announced += count;
      } while (cursor !== '0');
      if (mode === 'retire') await redis.del(key);
      return announced;
    },
  };
}
