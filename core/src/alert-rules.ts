import { readFile } from 'node:fs/promises';
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ConfigError } from './config.ts';
import {
  type AbsenceRule,
  type AbsenceRuleInput,
  AbsenceRuleSchema,
  absenceDetails,
  absenceVerdict,
  compileAbsenceRule,
  describeAbsenceRule,
} from './rule-kinds/absence.ts';
import {
  type RateRule,
  type RateRuleInput,
  RateRuleSchema,
  compileRateRule,
  describeRateRule,
  rateDetails,
  rateVerdict,
} from './rule-kinds/rate.ts';
import {
  type ThresholdRule,
  type ThresholdRuleInput,
  ThresholdRuleSchema,
  compileThresholdRule,
  describeThresholdRule,
  thresholdDetails,
  thresholdProblems,
  thresholdVerdict,
} from './rule-kinds/threshold.ts';
import {
  type WindowRule,
  type WindowRuleInput,
  WindowRuleSchema,
  compileWindowRule,
  describeWindowRule,
  windowDetails,
  windowProblems,
  windowVerdict,
} from './rule-kinds/window.ts';

/** Rules in one set at most. */
export const MAX_RULES = 1_000;

export { GLOB_PATTERN } from './rule-kinds/common.ts';

/** One kind's parts as the registry holds them: its schema compiled, what it cannot check (none by default). */
function kind<I, R extends Rule>(
  schema: TSchema,
  parts: {
    problems?: (input: I) => string[];
    compile: (input: I) => R;
    describe: (rule: R) => string;
    verdict: (rule: R, value: number) => string;
    details: (rule: R) => Record<string, unknown>;
  },
) {
  return {
    check: TypeCompiler.Compile(schema),
    problems: (parts.problems ?? (() => [])) as (input: never) => string[],
    compile: parts.compile as (input: never) => Rule,
    describe: parts.describe as (rule: never) => string,
    verdict: parts.verdict as (rule: never, value: number) => string,
    details: parts.details as (rule: never) => Record<string, unknown>,
  };
}

/**
 * The kinds of rule, each in its own module (its schema, what the schema cannot check, how it
 * compiles, how it reads in `rules:check`): adding a kind adds an entry here and touches no other
 * kind. A rule without `kind` is a threshold rule, so rules written before kinds existed stay valid.
 */
const KINDS = {
  threshold: kind(ThresholdRuleSchema, {
    problems: thresholdProblems,
    compile: compileThresholdRule,
    describe: describeThresholdRule,
    verdict: thresholdVerdict,
    details: thresholdDetails,
  }),
  absence: kind(AbsenceRuleSchema, {
    compile: compileAbsenceRule,
    describe: describeAbsenceRule,
    verdict: absenceVerdict,
    details: absenceDetails,
  }),
  rate: kind(RateRuleSchema, {
    compile: compileRateRule,
    describe: describeRateRule,
    verdict: rateVerdict,
    details: rateDetails,
  }),
  window: kind(WindowRuleSchema, {
    problems: windowProblems,
    compile: compileWindowRule,
    describe: describeWindowRule,
    verdict: windowVerdict,
    details: windowDetails,
  }),
};

export type RuleKind = keyof typeof KINDS;
export const RULE_KINDS = Object.keys(KINDS) as RuleKind[];

/** Every kind's schema (the OpenAPI document shows them as one of). */
export const RuleSchema = Type.Union([ThresholdRuleSchema, AbsenceRuleSchema, RateRuleSchema, WindowRuleSchema]);

/** A rule as written. */
export type RuleInput = ThresholdRuleInput | AbsenceRuleInput | RateRuleInput | WindowRuleInput;

/** A rule with its defaults applied and its globs compiled: narrow on `kind`. */
export type Rule = ThresholdRule | AbsenceRule | RateRule | WindowRule;

export type { AbsenceRule, RateRule, ThresholdRule, WindowRule };
export const isThresholdRule = (rule: Rule): rule is ThresholdRule => rule.kind === 'threshold';
export const isAbsenceRule = (rule: Rule): rule is AbsenceRule => rule.kind === 'absence';
export const isRateRule = (rule: Rule): rule is RateRule => rule.kind === 'rate';
export const isWindowRule = (rule: Rule): rule is WindowRule => rule.kind === 'window';

const kindOf = (input: { kind?: unknown }): RuleKind | undefined =>
  input.kind === undefined ? 'threshold' : RULE_KINDS.find((kind) => kind === input.kind);

/** One line saying what the rule watches and when it fires (`rules:check`). */
export function describeRule(rule: Rule): string {
  return KINDS[rule.kind].describe(rule as never);
}

/** What /health says of a rule: what every kind has, and its kind's own fields. */
export function ruleSummary(rule: Rule): Record<string, unknown> {
  return {
    id: rule.id,
    kind: rule.kind,
    metric: rule.metricPattern,
    device: rule.devicePattern,
    ...KINDS[rule.kind].details(rule as never),
  };
}

/** What a reading of `value` does to the rule (`rules:check --reading`). */
export function ruleVerdict(rule: Rule, value: number): string {
  return KINDS[rule.kind].verdict(rule as never, value);
}

export function compileRule(input: RuleInput): Rule {
  return KINDS[kindOf(input) ?? 'threshold'].compile(input as never);
}

/** What is wrong with the rule's shape (`path: message`), or its kind when nothing is. */
function checkShape(entry: unknown): { problem: string } | { kind: RuleKind } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { problem: 'rule: must be an object' };
  const kind = kindOf(entry as { kind?: unknown });
  if (!kind)
    return {
      problem: `kind: must be one of ${RULE_KINDS.join(', ')}, got ${JSON.stringify((entry as { kind: unknown }).kind)}`,
    };
  const { check } = KINDS[kind];
  if (check.Check(entry)) return { kind };
  const first = check.Errors(entry).First();
  return { problem: `${first?.path.replace(/^\//, '') || 'rule'}: ${first?.message ?? 'is invalid'}` };
}

/** The default: one rule, value > ALERT_THRESHOLD, every device and metric. */
export function defaultRuleInputs(threshold: number): RuleInput[] {
  return [{ id: 'default', threshold }];
}

export function defaultRules(threshold: number): Rule[] {
  return defaultRuleInputs(threshold).map(compileRule);
}

/**
 * Validates a rules file: a JSON array of rules (or `{ "rules": [...] }`).
 * @throws ConfigError naming each bad entry by index and id.
 */
export function parseRules(text: string, source = 'ALERT_RULES'): Rule[] {
  return parseRuleInputs(text, source).map(compileRule);
}

/** As parseRules, the rules as written (what the rule set in Redis keeps). */
export function parseRuleInputs(text: string, source = 'ALERT_RULES'): RuleInput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([{ key: source, message: `is not valid JSON (${(error as Error).message})` }]);
  }
  return checkRules(Array.isArray(parsed) ? parsed : (parsed as { rules?: unknown })?.rules, source);
}

/**
 * Checks a list of rules as a rules file's (PUT /rules checks the same way).
 * @throws ConfigError naming each bad entry by index and id.
 */
export function checkRules(list: unknown, source: string): RuleInput[] {
  if (!Array.isArray(list) || list.length === 0)
    throw new ConfigError([
      { key: source, message: 'must be a non-empty JSON array of rules (or { "rules": [...] })' },
    ]);
  // Every reading is checked against every rule: a bound keeps the evaluation's cost known.
  if (list.length > MAX_RULES)
    throw new ConfigError([{ key: source, message: `holds ${list.length} rules; at most ${MAX_RULES}` }]);
  const problems = [];
  const ids = new Set<string>();
  for (const [index, entry] of list.entries()) {
    const name = `${source}[${index}]${typeof entry?.id === 'string' ? ` (${entry.id})` : ''}`;
    const shape = checkShape(entry);
    if ('problem' in shape) {
      problems.push({ key: name, message: shape.problem });
      continue;
    }
    if (ids.has(entry.id)) problems.push({ key: name, message: `id "${entry.id}" is used twice` });
    ids.add(entry.id);
    for (const message of KINDS[shape.kind].problems(entry as never)) problems.push({ key: name, message });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return list as RuleInput[];
}

/** The rules file at `path`, checked, as written. */
export async function loadRules(path: string): Promise<RuleInput[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ key: 'ALERT_RULES', message: `cannot read ${path}: ${(error as Error).message}` }]);
  }
  return parseRuleInputs(text, `ALERT_RULES ${path}`);
}
