import { raiseRetired } from 'core';
import type Redis from 'ioredis';

/**
 * A rule of a kind with a state per device and metric (rate, window) removed: each device and
 * metric still firing on it resolves (with a note saying why) and its state goes. The state
 * hash's values begin `state,order,` whatever the kind (a window's `#member` fields of earlier
 * steps begin otherwise, and are passed over). Ids from rule, member and the reading that last
 * changed it, so a retire done twice raises each once.
 */
export async function retireMemberRule(
  redis: Redis,
  alertsStream: string,
  key: string,
  ruleId: string,
  severity: 'info' | 'warning' | 'critical',
  note: string,
): Promise<number> {
  const states = await redis.hgetall(key);
  const [seconds] = (await redis.time()) as [number | string, number | string];
  let resolved = 0;
  for (const [member, packed] of Object.entries(states)) {
    const [state, order] = packed.split(',');
    if (state !== 'firing') continue;
    const [deviceId, metric = 'unknown'] = member.split('|');
    await raiseRetired(redis, alertsStream, {
      episode: `${ruleId}|${member}|${order}`,
      ruleId,
      severity,
      deviceId: deviceId as string,
      metric,
      readingId: `retired-${order}`,
      note,
      ts: Number(seconds) * 1_000,
    });
    resolved += 1;
  }
  await redis.del(key);
  return resolved;
}
