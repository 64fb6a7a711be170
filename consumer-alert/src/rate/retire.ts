import type Redis from 'ioredis';
import { raiseRetired } from '../retired-alert.ts';
import { rateStateKey } from './evaluator.ts';

/**
 * A rate rule removed: each device and metric still firing on it resolves (with a note saying
 * why) and its state goes. Ids from rule, member and the reading that last changed it, so a retire
 * done twice raises each once.
 */
export async function retireRateRule(
  redis: Redis,
  alertsStream: string,
  ruleId: string,
  severity: 'info' | 'warning' | 'critical',
  note: string,
): Promise<number> {
  const key = rateStateKey(alertsStream, ruleId);
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
