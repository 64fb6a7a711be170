import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { encodeAlert } from './contracts/alert.ts';

/**
 * Resolves, with a note saying why, a device still firing on a rule that was removed — the kinds
 * that keep their own state (absence, rate, window) call this for each — or a device deleted, for
 * its silences. The id is made from `episode` (what identifies the firing: rule, member and when
 * it began), so a retire done twice raises it once.
 */
export async function raiseRetired(
  redis: Redis,
  alertsStream: string,
  alert: {
    episode: string;
    ruleId: string;
    severity: 'info' | 'warning' | 'critical';
    deviceId: string;
    metric: string;
    readingId: string;
    note: string;
    ts: number;
  },
): Promise<void> {
  const { episode, ...fields } = alert;
  const id = createHash('sha1').update(`${episode}|retired`).digest('hex');
  await redis.xadd(alertsStream, '*', ...encodeAlert({ ...fields, id, state: 'resolved' }));
}
