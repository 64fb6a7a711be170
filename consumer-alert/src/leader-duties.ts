import { type Logger, type Rule, alertKeys, globMatches, isThresholdRule, readSilences } from 'core';
import type Redis from 'ioredis';
import type { createAnnouncer } from './announcer.ts';

type Severity = 'info' | 'warning' | 'critical';

/** Silences that ended longer ago than this are not followed up any more (nor remembered). */
const FOLLOW_UP_WITHIN_MS = 24 * 60 * 60 * 1_000;

/**
 * What the instance evaluating a partition does besides evaluating its readings, for the devices
 * of that partition, each time the rules change and every second or so:
 * - a rule gone from the rule set (removed, or renamed) resolves each device still firing on it,
 *   with a note saying why, and its states go — no device stays `firing` for ever on a rule that
 *   no longer exists. The rules evaluated are remembered in Redis, per partition (keys.ts
 *   `alertKeys().rulesKnown`), so a rule removed while no instance ran is resolved too;
 * - a silence that ended (its time ran out, or DELETE /silences/:id) is followed up once: each
 *   device it covered that is still firing is notified once more.
 */
export function leaderDuties(options: {
  /**
   * How a removed rule of each kind other than threshold resolves what fires on it (and drops its
   * state): by kind, each in its own place.
   */
  retireByKind: Record<string, (ruleId: string, severity: Severity, note: string) => Promise<number>>;
  redis: Redis;
  /** The partition's alerts stream: what is remembered is kept beside it. */
  alertsStream: string;
  /** The alerts stream's name (ALERTS_STREAM): the silences are the whole pipeline's. */
  baseAlertsStream: string;
  announcer: ReturnType<typeof createAnnouncer>;
  logger: Logger;
}) {
  const { redis, alertsStream, baseAlertsStream, announcer, logger, retireByKind } = options;
  const { rulesKnown: knownKey, silencesFollowed: followedKey } = alertKeys(redis, alertsStream);

  return {
    async retireRemovedRules(rules: readonly Rule[], version: number): Promise<void> {
      const known = await redis.hgetall(knownKey);
      const current = new Set(rules.map((rule) => rule.id));
      for (const [id, text] of Object.entries(known)) {
        if (current.has(id)) continue;
        const { threshold, severity, kind } = JSON.parse(text) as {
          threshold: number;
          severity: Severity;
          kind?: string;
        };
        const note = `rule ${id} was removed (rules version ${version})`;
        // A threshold rule's firing devices resolve (older entries have no kind); other kinds their own way.
        const retireKind = kind ? retireByKind[kind] : undefined;
        const resolved = retireKind
          ? await retireKind(id, severity, note)
          : await announcer.announce({ id, threshold, severity }, 'retire', note);
        await redis.hdel(knownKey, id);
        logger.info('rule_retired', { rule: id, resolved, version });
      }
      if (rules.length > 0)
        await redis.hset(
          knownKey,
          ...rules.flatMap((rule) => [
            rule.id,
            JSON.stringify(
              rule.kind === 'threshold'
                ? { threshold: rule.threshold, severity: rule.severity }
                : { kind: rule.kind, severity: rule.severity },
            ),
          ]),
        );
    },

    async followEndedSilences(rules: readonly Rule[]): Promise<void> {
      const now = Date.now();
      // Every second: the silences only; what was followed up is read once one has ended.
      const ended = (await readSilences(redis, baseAlertsStream)).filter(
        (silence) => silence.until <= now && silence.until >= now - FOLLOW_UP_WITHIN_MS,
      );
      if (ended.length === 0) return;
      const followed = await redis.hgetall(followedKey);
      for (const silence of ended) {
        if (followed[silence.id] !== undefined) continue;
        let reminded = 0;
        for (const rule of rules.filter(isThresholdRule)) {
          if (!globMatches(silence.rule, rule.id)) continue;
          reminded += await announcer.announce(
            rule,
            'remind',
            `still firing after silence ${silence.id} ended`,
            (state) =>
              globMatches(silence.device, state.device) && globMatches(silence.metric, state.metric || 'unknown'),
          );
        }
        await redis.hset(followedKey, silence.id, String(silence.until));
        logger.info('silence_followed_up', { silence: silence.id, stillFiring: reminded });
      }
      const forgotten = Object.entries(followed)
        .filter(([, until]) => Number(until) < now - FOLLOW_UP_WITHIN_MS)
        .map(([id]) => id);
      if (forgotten.length > 0) await redis.hdel(followedKey, ...forgotten);
    },
  };
}
