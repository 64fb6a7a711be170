import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERT_VERSION, type AbsenceRule, alertKeys, entryTimeMs, raiseRetired, readGroups } from 'core';
import type Redis from 'ioredis';

/** What the scripts take of a rule: [ruleId, severity, silentForMs, perMetric, repeatAfterMs]. */
const ruleArgs = (rule: AbsenceRule) =>
  JSON.stringify([rule.id, rule.severity, rule.silentForMs, rule.perMetric ? 1 : 0, rule.repeatAfterMs]);

const SWEEP = readFileSync(join(import.meta.dir, '../lua/sweep-absence.lua'), 'utf8');
const REMIND = readFileSync(join(import.meta.dir, '../lua/remind-absence.lua'), 'utf8');
/**
 * Redis's clock and uptime, asked of the node that holds the alert keys (KEYS[1], the alerts
 * stream): on a Redis Cluster another node's uptime says nothing of the absence state's Redis.
 */
const CLOCK = `local now = redis.call('TIME')
return {now[1], now[2], string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)') or '0'}`;
/** Members called silent per script call: a few ms of Redis at most; the sweep calls again while full. */
const MEMBERS_PER_CALL = 500;

type SweepingRedis = Redis & {
  sweepAbsence(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
  remindAbsence(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
  absenceClock(alertsStream: string): Promise<[string, string, string]>;
};

/**
 * The lease holder's side of absence rules, every sweep: which watched devices have been silent
 * for their rule's `silentForMs`. Silence is judged against the pipeline's own progress, not the
 * wall clock alone:
 * - progress is the arrival time of the oldest reading the `alerts` group has not evaluated
 *   (pending, or not yet read), or now when it has evaluated everything: a device whose readings
 *   wait in a backlog — the group lagging, consumer-alert stopped — is not silent, and a backlog
 *   caught up calls silent exactly the gaps a live run would have;
 * - nothing is silent before Redis has run for `silentForMs`: while Redis was down no device could
 *   report, so a restart (kill -9, an outage) raises no alert for the time it was away.
 * Times are Redis's clock (TIME, and stream ids), the clock arrivals are dated by.
 */
export function createAbsenceSweeper(options: {
  redis: Redis;
  /** The readings stream's partitions. */
  readingsStreams: readonly string[];
  alertsGroup: string;
  alertsStream: string;
  lease?: { key: string; token: string };
}) {
  const { readingsStreams, alertsGroup, alertsStream, lease } = options;
  if (!('sweepAbsence' in options.redis)) options.redis.defineCommand('sweepAbsence', { lua: SWEEP });
  if (!('remindAbsence' in options.redis)) options.redis.defineCommand('remindAbsence', { lua: REMIND });
  if (!('absenceClock' in options.redis)) options.redis.defineCommand('absenceClock', { lua: CLOCK, numberOfKeys: 1 });
  const redis = options.redis as SweepingRedis;
  // The keys it touches, named once (keys.ts).
  const names = alertKeys(redis, alertsStream);

  /** Redis's clock now, and when Redis started (at the latest: whole seconds, as the scripts work it out). */
  const redisClock = async () => {
    const [seconds, micros, uptimeSeconds] = await redis.absenceClock(alertsStream);
    const uptime = Number(uptimeSeconds);
    return {
      now: Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000),
      // Rounded up, as the scripts do: whole seconds of uptime put it up to a second early otherwise.
      startedAt: (Number(seconds) - uptime + 1) * 1_000,
    };
  };

  /** The arrival time up to which the `alerts` group has evaluated every reading, in every partition. */
  const progress = async (now: number): Promise<number> =>
    Math.min(...(await Promise.all(readingsStreams.map((stream) => progressOf(stream, now)))));

  /** The same in one partition. */
  const progressOf = async (readingsStream: string, now: number): Promise<number> => {
    const group = (await readGroups(redis, readingsStream)).find((found) => found.name === alertsGroup);
    if (!group) return now;
    const [pending, [next]] = await Promise.all([
      redis.xpending(readingsStream, alertsGroup) as Promise<[number, string | null, string | null, unknown]>,
      redis.xrange(readingsStream, `(${group.lastDeliveredId}`, '+', 'COUNT', 1),
    ]);
    const times = [now];
    if (Number(pending[0]) > 0 && pending[1]) times.push(entryTimeMs(pending[1]));
    if (next) times.push(entryTimeMs(next[0]));
    return Math.min(...times);
  };

  return {
    /** Calls silent every member silent long enough; returns how many were. */
    async sweep(rules: readonly AbsenceRule[]): Promise<number> {
      if (rules.length === 0) return 0;
      const { now, startedAt: since } = await redisClock();
      const upTo = await progress(now);
      let silent = 0;
      for (const rule of rules) {
        if (since + rule.silentForMs > upTo) continue;
        const keys = names.absence(rule.id);
        for (;;) {
          const called = await redis.sweepAbsence(
            lease ? 7 : 6,
            alertsStream,
            keys.watch,
            keys.newest,
            keys.silent,
            keys.reminders,
            names.acks,
            ...(lease ? [lease.key] : []),
            ALERT_VERSION,
            ruleArgs(rule),
            String(upTo - rule.silentForMs),
            String(MEMBERS_PER_CALL),
            lease?.token ?? '',
            String(since),
          );
          if (called === '!') return silent;
          silent += Number(called);
          if (Number(called) < MEMBERS_PER_CALL) break;
        }
      }
      return silent;
    },

    /**
     * Reminders (rules with repeatAfterMs): each member still silent and unacknowledged whose
     * reminder is due is raised again; returns how many were. On Redis's clock: a reminder is
     * about the time since the silence began, not about the pipeline's progress.
     */
    async remind(rules: readonly AbsenceRule[]): Promise<number> {
      let reminded = 0;
      for (const rule of rules) {
        if (rule.repeatAfterMs === 0) continue;
        const keys = names.absence(rule.id);
        for (;;) {
          const raised = await redis.remindAbsence(
            lease ? 6 : 5,
            alertsStream,
            keys.reminders,
            keys.silent,
            keys.newest,
            names.acks,
            ...(lease ? [lease.key] : []),
            ALERT_VERSION,
            ruleArgs(rule),
            String(MEMBERS_PER_CALL),
            '',
            lease?.token ?? '',
          );
          if (raised === '!') return reminded;
          reminded += Number(raised);
          if (Number(raised) < MEMBERS_PER_CALL) break;
        }
      }
      return reminded;
    },

    /**
     * A rule removed: each member it calls silent resolves (with a note saying why) and its watch
     * goes. Ids from rule, member and silence, so a retire done twice raises each once.
     */
    async retire(ruleId: string, severity: 'info' | 'warning' | 'critical', note: string): Promise<number> {
      const keys = names.absence(ruleId);
      const [silences, newest] = await Promise.all([redis.hgetall(keys.silent), redis.hgetall(keys.newest)]);
      const { now } = await redisClock();
      let resolved = 0;
      for (const [member, from] of Object.entries(silences)) {
        const [, readingId = 'none', metric = 'unknown'] = (newest[member] ?? '').split('|');
        await raiseRetired(redis, alertsStream, {
          episode: `${ruleId}|${member}|${from}`,
          ruleId,
          severity,
          deviceId: member.split('|')[0] as string,
          metric,
          readingId,
          note,
          ts: now,
        });
        resolved += 1;
      }
      await redis.del(keys.watch, keys.newest, keys.silent, keys.reminders);
      return resolved;
    },
  };
}
