import { ALERT_VERSION, type ThresholdRule, alertKeys } from 'core';
import type Redis from 'ioredis';
import { withStateCodec } from './threshold-state.ts';

const ESCALATE = withStateCodec('escalate-alerts.lua');
/** Devices at most per step and script call: a few ms of Redis. */
const MEMBERS_PER_CALL = 1_000;

type EscalatingRedis = Redis & {
  escalateAlerts(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
};

/**
 * The lease holder's escalation, every rules poll: a device still firing on a threshold rule with
 * `escalate` steps, and unacknowledged, `afterMs` after it fired is raised again with the step's
 * severity — each step once per firing. Firing anew or resolving starts it over; an
 * acknowledgement (POST /alerts/:id/ack) stops it.
 */
export function createEscalator(options: {
  redis: Redis;
  alertsStream: string;
  lease?: { key: string; token: string };
}) {
  const { alertsStream, lease } = options;
  if (!('escalateAlerts' in options.redis)) options.redis.defineCommand('escalateAlerts', { lua: ESCALATE });
  const redis = options.redis as EscalatingRedis;
  const keys = alertKeys(redis, alertsStream);

  return {
    /** Raises what is due; returns how many alerts were. */
    async sweep(rules: readonly ThresholdRule[]): Promise<number> {
      let raised = 0;
      for (const rule of rules) {
        if (rule.escalate.length === 0) continue;
        const answer = await redis.escalateAlerts(
          lease ? 6 : 5,
          alertsStream,
          keys.escalation.firing,
          keys.escalation.raised,
          keys.acks,
          keys.thresholdState(rule.id),
          ...(lease ? [lease.key] : []),
          ALERT_VERSION,
          JSON.stringify([rule.id, String(rule.threshold), rule.escalate.map((step) => [step.afterMs, step.severity])]),
          String(MEMBERS_PER_CALL),
          lease?.token ?? '',
        );
        if (answer === '!') return raised;
        raised += Number(answer);
      }
      return raised;
    },
  };
}
