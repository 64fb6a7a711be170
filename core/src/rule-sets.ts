import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
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

export const rulesKey = (alertsStream: string) => `${alertsStream}:rules`;

export async function readRuleSet(redis: Redis, alertsStream: string): Promise<RuleSet | undefined> {
  const text = await redis.get(rulesKey(alertsStream));
  return text === null ? undefined : (JSON.parse(text) as RuleSet);
}

/**
 * Replaces the set when `replaces` is its current version (or always, when undefined); returns
 * the set now in force, and whether it is the one given.
 */
export async function replaceRuleSet(
  redis: Redis,
  alertsStream: string,
  rules: readonly RuleInput[],
  source: string,
  replaces?: number,
): Promise<{ replaced: boolean; version: number }> {
  const body = JSON.stringify({ rules, updatedAt: Date.now(), source }).slice(1);
  const [replaced, version] = (await redis.eval(REPLACE, 1, rulesKey(alertsStream), replaces === undefined ? '' : String(replaces), body)) as [number, number];
  return { replaced: replaced === 1, version };
}

/** The set in force; the first time (none yet), `seed` becomes version 1. */
export async function seedRuleSet(redis: Redis, alertsStream: string, seed: readonly RuleInput[], source: string): Promise<RuleSet> {
  await replaceRuleSet(redis, alertsStream, seed, source, 0);
  return (await readRuleSet(redis, alertsStream)) as RuleSet;
}
