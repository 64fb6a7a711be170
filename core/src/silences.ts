import type Redis from 'ioredis';
import type { Alert } from './contracts/alert.ts';
import { globMatches } from './glob.ts';
import { alertKeys } from './keys.ts';

/**
 * A silence: alerts whose device, rule and metric match its globs, raised while it is in force,
 * are recorded in the history marked silenced and not notified. Silences live in Redis (one hash,
 * `<ALERTS_STREAM>:silences`, id → JSON), written by the API and read by the notifier and the
 * history consumer. Times are epoch ms on Redis's clock (the clock of alert raise times).
 */
export interface Silence {
  id: string;
  /** Globs (`*` matches any run of characters). */
  device: string;
  rule: string;
  metric: string;
  from: number;
  until: number;
  reason: string;
  author: string;
  createdAt: number;
  /** Set when it was ended early (DELETE): `until` was cut to then. */
  endedAt?: number;
}

/**
 * When a silence is in force: from max(from, createdAt) until `until`. A silence never reaches
 * back before it was made, so whether an alert is silenced is decided by its raise time alone —
 * the notifier and the history consumer decide it the same way whenever each reads it.
 */
export function inForce(silence: Silence, atMs: number): boolean {
  return atMs >= Math.max(silence.from, silence.createdAt) && atMs < silence.until;
}

export function silenceMatches(
  silence: Pick<Silence, 'device' | 'rule' | 'metric'>,
  alert: Pick<Alert, 'deviceId' | 'ruleId' | 'metric'>,
): boolean {
  return (
    globMatches(silence.device, alert.deviceId) &&
    globMatches(silence.rule, alert.ruleId) &&
    globMatches(silence.metric, alert.metric)
  );
}

/** The silence covering an alert raised at `raisedAtMs`, if any. */
export function silencing(
  silences: readonly Silence[],
  alert: Pick<Alert, 'deviceId' | 'ruleId' | 'metric'>,
  raisedAtMs: number,
): Silence | undefined {
  return silences.find((silence) => inForce(silence, raisedAtMs) && silenceMatches(silence, alert));
}

/** Every silence stored (entries that do not parse are skipped: the API writes them all). */
export async function readSilences(redis: Redis, alertsStream: string): Promise<Silence[]> {
  const values = await redis.hvals(alertKeys(redis, alertsStream).silences);
  const silences: Silence[] = [];
  for (const value of values) {
    try {
      silences.push(JSON.parse(value) as Silence);
    } catch {
      // Not ours; ignored.
    }
  }
  return silences;
}
