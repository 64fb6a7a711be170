import { type Logger, type Rule, alertKeys, isAbsenceRule, isThresholdRule } from 'core';
import type Redis from 'ioredis';
import { createAbsenceSweeper } from './absence/sweeper.ts';
import { createAnnouncer } from './announcer.ts';
import { createEscalator } from './escalation.ts';
import type { EvaluatorLease } from './evaluator-lease.ts';
import { leaderDuties } from './leader-duties.ts';
import { retireMemberRule } from './retire-member-rule.ts';

/** What one round of a partition's duties did, for the log. */
export interface DutiesDone {
  silent: number;
  reminded: number;
  escalated: number;
}

/**
 * The time-based work of one partition, done by the instance holding its lease, every second or
 * so: removed rules retired once per rule set, ended silences followed up, absence rules swept and
 * reminded, firings escalated — each over the partition's own keys (its devices' state lives beside
 * its alerts stream, keys.ts), each script fenced by the partition's lease.
 */
export function partitionDuties(options: {
  redis: Redis;
  /** The partition of the readings stream, whose `alerts` group progress absence is judged by. */
  readingsStream: string;
  /** The partition of the alerts stream. */
  alertsStream: string;
  /** ALERTS_STREAM: the silences are the whole pipeline's. */
  baseAlertsStream: string;
  alertsGroup: string;
  lease: EvaluatorLease;
  logger: Logger;
}) {
  const { redis, readingsStream, alertsStream, baseAlertsStream, alertsGroup, lease, logger } = options;
  const keys = alertKeys(redis, alertsStream);
  const absence = createAbsenceSweeper({ redis, readingsStreams: [readingsStream], alertsGroup, alertsStream, lease });
  const escalator = createEscalator({ redis, alertsStream, lease });

  const duties = leaderDuties({
    retireByKind: {
      absence: (id, severity, note) => absence.retire(id, severity, note),
      rate: (id, severity, note) => retireMemberRule(redis, alertsStream, keys.rateState(id), id, severity, note),
      window: (id, severity, note) => retireMemberRule(redis, alertsStream, keys.windowState(id), id, severity, note),
    },
    redis,
    alertsStream,
    baseAlertsStream,
    announcer: createAnnouncer({ redis, alertsStream, lease }),
    logger,
  });
  /** The rule set version whose removed rules were retired during this lead. */
  let retiredFor: number | undefined;

  return {
    /** One round, while this instance holds the partition's lease. */
    async run(rules: readonly Rule[], version: number): Promise<DutiesDone> {
      if (retiredFor !== version) {
        await duties.retireRemovedRules(rules, version);
        retiredFor = version;
      }
      await duties.followEndedSilences(rules);
      const silent = await absence.sweep(rules.filter(isAbsenceRule));
      const reminded = await absence.remind(rules.filter(isAbsenceRule));
      const escalated = await escalator.sweep(rules.filter(isThresholdRule));
      return { silent, reminded, escalated };
    },
    /** The lease is not held: a later lead retires removed rules again (what another holder did is not known here). */
    notLeading() {
      retiredFor = undefined;
    },
  };
}
