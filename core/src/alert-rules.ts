import { readFile } from 'node:fs/promises';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ConfigError } from './config.ts';
import { NAME_PATTERN, type Reading } from './contracts/reading.ts';
import { compileGlob } from './glob.ts';

/** Rules in one set at most. */
export const MAX_RULES = 1_000;

/** `*` matches any run of characters; everything else literally. */
export const GLOB_PATTERN = '^[A-Za-z0-9._:*-]+$';

export const RuleSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN }),
    metric: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: GLOB_PATTERN,
        description: 'Metric name or glob; default every metric',
      }),
    ),
    device: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: GLOB_PATTERN,
        description: 'Device id or glob; default every device',
      }),
    ),
    threshold: Type.Number(),
    direction: Type.Optional(Type.Union([Type.Literal('above'), Type.Literal('below')])),
    clearAt: Type.Optional(Type.Number({ description: 'Resolve only once the value is back past this (hysteresis)' })),
    forReadings: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, description: 'Fire after this many consecutive breaches' }),
    ),
    repeatAfterMs: Type.Optional(Type.Integer({ minimum: 1_000, description: 'Notify again while still firing' })),
    severity: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')])),
    flapping: Type.Optional(
      Type.Object(
        {
          transitions: Type.Integer({ minimum: 2, maximum: 50, description: 'This many transitions…' }),
          withinMs: Type.Integer({
            minimum: 1_000,
            maximum: 86_400_000,
            description: '…within this window make the device flapping',
          }),
        },
        {
          additionalProperties: false,
          description:
            'Past it: one notice, then quiet until the device is stable for the window, then one notice of its state',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export type RuleInput = Static<typeof RuleSchema>;

/** A rule with its defaults applied and its globs compiled. */
export interface Rule {
  id: string;
  threshold: number;
  direction: 'above' | 'below';
  clearAt: number;
  forReadings: number;
  repeatAfterMs: number;
  severity: 'info' | 'warning' | 'critical';
  /** 0 when the rule has no flapping option. */
  flapTransitions: number;
  flapWithinMs: number;
  metricPattern: string;
  devicePattern: string;
  matches(reading: Pick<Reading, 'metric' | 'deviceId'>): boolean;
  /** Past the threshold: value > threshold (above) or value < threshold (below). Exactly at it is not. */
  breaches(value: number): boolean;
  /** Back past clearAt (default: the threshold itself). */
  clears(value: number): boolean;
}

const ruleCheck = TypeCompiler.Compile(RuleSchema);

export function compileRule(input: RuleInput): Rule {
  const direction = input.direction ?? 'above';
  const clearAt = input.clearAt ?? input.threshold;
  const metric = compileGlob(input.metric ?? '*');
  const device = compileGlob(input.device ?? '*');
  return {
    id: input.id,
    threshold: input.threshold,
    direction,
    clearAt,
    forReadings: input.forReadings ?? 1,
    repeatAfterMs: input.repeatAfterMs ?? 0,
    severity: input.severity ?? 'warning',
    flapTransitions: input.flapping?.transitions ?? 0,
    flapWithinMs: input.flapping?.withinMs ?? 0,
    metricPattern: input.metric ?? '*',
    devicePattern: input.device ?? '*',
    matches: (reading) => metric.matches(reading.metric) && device.matches(reading.deviceId),
    breaches: direction === 'above' ? (value) => value > input.threshold : (value) => value < input.threshold,
    clears:
      input.clearAt === undefined
        ? direction === 'above'
          ? (value) => value <= input.threshold
          : (value) => value >= input.threshold
        : direction === 'above'
          ? (value) => value < clearAt
          : (value) => value > clearAt,
  };
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
    if (!ruleCheck.Check(entry)) {
      const first = ruleCheck.Errors(entry).First();
      problems.push({
        key: name,
        message: `${first?.path.replace(/^\//, '') || 'rule'}: ${first?.message ?? 'is invalid'}`,
      });
      continue;
    }
    if (ids.has(entry.id)) problems.push({ key: name, message: `id "${entry.id}" is used twice` });
    ids.add(entry.id);
    const direction = entry.direction ?? 'above';
    if (
      entry.clearAt !== undefined &&
      (direction === 'above' ? entry.clearAt > entry.threshold : entry.clearAt < entry.threshold)
    ) {
      problems.push({
        key: name,
        message: `clearAt ${entry.clearAt} must be on the safe side of threshold ${entry.threshold} (${direction === 'above' ? 'at or below' : 'at or above'} it)`,
      });
    }
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
