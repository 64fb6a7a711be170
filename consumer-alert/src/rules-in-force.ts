import {
  type Logger,
  RULES_SET_BY_API,
  type Rule,
  type RuleInput,
  type RuleSet,
  compileRule,
  readRuleSet,
  replaceRuleSet,
} from 'core';
import type Redis from 'ioredis';

const sameRules = (a: readonly RuleInput[], b: readonly RuleInput[]) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The rule set in force, followed in Redis: every instance evaluates (or would) by the same
 * version. At start the configured rules (ALERT_RULES's file, or ALERT_THRESHOLD's one rule)
 * seed it — when there is none yet, or when the one in force was seeded from other configured
 * rules (the file was edited): a restart applies an edited file, as before. A set written by
 * PUT /rules is kept across restarts; the configured rules are then not applied (said in a log).
 */
export function rulesInForce(options: {
  redis: Redis;
  alertsStream: string;
  seed: readonly RuleInput[];
  seedSource: string;
  logger: Logger;
}) {
  const { redis, alertsStream, seed, seedSource, logger } = options;
  let current: { set: RuleSet; rules: Rule[] } | undefined;

  const adopt = (set: RuleSet) => {
    current = { set, rules: set.rules.map(compileRule) };
    return current;
  };

  return {
    get current() {
      return current as { set: RuleSet; rules: Rule[] };
    },
    /** Seeds or adopts the set in force. */
    async start(): Promise<{ set: RuleSet; rules: Rule[] }> {
      for (;;) {
        const found = await readRuleSet(redis, alertsStream);
        if (found && (found.source === RULES_SET_BY_API || sameRules(found.rules, seed))) {
          if (found.source === RULES_SET_BY_API && !sameRules(found.rules, seed)) {
            logger.warn('rules_from_api', {
              version: found.version,
              hint: `the rules set with PUT /rules are in force; ${seedSource} is not applied (PUT /rules to change them)`,
            });
          }
          return adopt(found);
        }
        const outcome = await replaceRuleSet(redis, alertsStream, seed, seedSource, found?.version ?? 0);
        if (outcome.replaced) {
          logger.info('rules_seeded', { source: seedSource, replacing: found?.version ?? null });
          return adopt(outcome.set);
        }
        // Another instance changed it meanwhile: read what is in force now.
      }
    },
    /** The set in force when it changed since the last call, else undefined. */
    async poll(): Promise<{ set: RuleSet; rules: Rule[] } | undefined> {
      const found = await readRuleSet(redis, alertsStream);
      if (!found || found.version === current?.set.version) return undefined;
      try {
        return adopt(found);
      } catch (error) {
        // The API checks every set it writes; a hand-written key that does not compile is not applied.
        logger.error('rules_unusable', { version: found.version, error: (error as Error).message });
        return undefined;
      }
    },
  };
}
