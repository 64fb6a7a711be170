import { createHash } from 'node:crypto';
import { encodeAlert } from 'core';
import type Redis from 'ioredis';
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
    const id = createHash('sha1').update(`${ruleId}|${member}|${order}|retired`).digest('hex');
    await redis.xadd(
      alertsStream,
      '*',
      ...encodeAlert({
        id,
        ruleId,
        deviceId: deviceId as string,
        metric,
        state: 'resolved',
        severity,
        ts: Number(seconds) * 1_000,
        readingId: `retired-${order}`,
        note,
      }),
    );
    resolved += 1;
  }
  await redis.del(key);
  return resolved;
}
