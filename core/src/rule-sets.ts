import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { alertKeys } from './keys.ts';
import { replicated } from './replica-wait.ts';
import type { RuleInput } from './alert-rules.ts';

/**
 * The alerting rules in force, shared by every consumer-alert instance and the API: one versioned
 * set in Redis (`<ALERTS_STREAM>:rules`). The rules file (ALERT_RULES, or ALERT_THRESHOLD's one
 * rule) seeds version 1; PUT /rules replaces it; consumer-alert follows within a second or two.
 */
export interface RuleSet {
  version: number;
  rules: RuleInput[];
  updatedAt: number;
  /** Who made it: `file <path>`, `ALERT_THRESHOLD`, or `PUT /rules`. */
  source: string;
}

const REPLACE = readFileSync(join(import.meta.dir, 'lua/replace-rules.lua'), 'utf8');

/** The source of a set written with PUT /rules: the configured rules no longer re-seed it. */
export const RULES_SET_BY_API = 'PUT /rules';

export async function readRuleSet(redis: Redis, alertsStream: string): Promise<RuleSet | undefined> {
  const text = await redis.get(alertKeys(redis, alertsStream).rules);
  return text === null ? undefined : (JSON.parse(text) as RuleSet);
}

/**
 * Replaces the set when `replaces` is its current version (or always, when undefined): the set
 * written, or the version in force when it was not the one named.
 */
export async function replaceRuleSet(
  redis: Redis,
  alertsStream: string,
  rules: readonly RuleInput[],
  source: string,
  replaces?: number,
): Promise<{ replaced: true; set: RuleSet } | { replaced: false; version: number }> {
  const updatedAt = Date.now();
  const body = JSON.stringify({ rules, updatedAt, source }).slice(1);
  // Acknowledged once the replicas REDIS_MIN_REPLICAS asks for hold it (a failover must not undo a PUT).
  const [replaced, version] = (await replicated(redis, () =>
    redis.eval(REPLACE, 1, alertKeys(redis, alertsStream).rules, replaces === undefined ? '' : String(replaces), body),
  )) as [number, number];
  return replaced === 1
    ? { replaced: true, set: { version, rules: [...rules], updatedAt, source } }
    : { replaced: false, version };
}
