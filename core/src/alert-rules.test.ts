import { describe, expect, it } from 'bun:test';
import { MAX_RULES, checkRules, compileRule, parseRules } from './alert-rules.ts';
import { ConfigError } from './config.ts';

const problems = (list: unknown) => {
  try {
    checkRules(list, 'rules');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.key}: ${p.message}`);
    throw error;
  }
  return [];
};

describe('alert rules, as the file and PUT /rules check them', () => {
  it('names each bad entry by index and id, and passes good ones', () => {
    expect(problems([{ id: 'ok', threshold: 1, flapping: { transitions: 6, withinMs: 60_000 } }])).toEqual([]);
    expect(
      problems([
        { id: 'a', threshold: 1 },
        { id: 'x', threshold: 'high' },
        { id: 'b', threshold: 10, clearAt: 20 },
        { id: 'c', threshold: 1, flapping: { transitions: 1, withinMs: 60_000 } },
        { id: 'a', threshold: 2 },
      ]),
    ).toEqual([
      'rules[1] (x): threshold: Expected number',
      'rules[2] (b): clearAt 20 must be on the safe side of threshold 10 (at or below it)',
      expect.stringMatching(/^rules\[3\] \(c\): flapping\/transitions/),
      'rules[4] (a): id "a" is used twice',
    ]);
  });

  it(`refuses an empty set, something other than a list, and more than ${MAX_RULES} rules`, () => {
    expect(problems([])).toEqual([expect.stringContaining('must be a non-empty JSON array')]);
    expect(problems({ id: 'x' })).toEqual([expect.stringContaining('must be a non-empty JSON array')]);
    expect(problems(Array.from({ length: MAX_RULES + 1 }, (_, i) => ({ id: `r${i}`, threshold: i })))).toEqual([
      `rules: holds ${MAX_RULES + 1} rules; at most ${MAX_RULES}`,
    ]);
    expect(() => parseRules('{nope', 'ALERT_RULES x.json')).toThrow(/ALERT_RULES x.json: is not valid JSON/);
  });

  it('compiles the flapping option, 0 meaning none', () => {
    expect(compileRule({ id: 'f', threshold: 1, flapping: { transitions: 4, withinMs: 2_000 } })).toMatchObject({
      flapTransitions: 4,
      flapWithinMs: 2_000,
    });
    expect(compileRule({ id: 'g', threshold: 1 })).toMatchObject({ flapTransitions: 0, flapWithinMs: 0 });
  });
});

describe('rule kinds', () => {
  it('take threshold rules without a kind (as written before kinds) and with one', () => {
    const [plain, explicit] = parseRules(
      JSON.stringify([
        { id: 'a', threshold: 5 },
        { kind: 'threshold', id: 'b', threshold: 7, direction: 'below' },
      ]),
    );
    expect([plain?.kind, explicit?.kind]).toEqual(['threshold', 'threshold']);
  });

  it('take absence rules, per device or per device and metric', () => {
    const [device, metric] = parseRules(
      JSON.stringify([
        { kind: 'absence', id: 'quiet', device: 'pump-*', silentForMs: 60_000 },
        { kind: 'absence', id: 'no-kwh', metric: 'kwh', silentForMs: 5_000, severity: 'critical' },
      ]),
    );
    expect(device).toMatchObject({ kind: 'absence', silentForMs: 60_000, perMetric: false, severity: 'warning' });
    expect(metric).toMatchObject({ kind: 'absence', perMetric: true, severity: 'critical' });
    expect(device?.matches({ deviceId: 'pump-1', metric: 'temp' })).toBe(true);
    expect(metric?.matches({ deviceId: 'pump-1', metric: 'temp' })).toBe(false);
  });

  it('name what is wrong for each kind: an unknown kind, a field of another kind, a value out of range', () => {
    expect(
      problems([
        { kind: 'sometimes', id: 'a', threshold: 1 },
        { kind: 'absence', id: 'b', silentForMs: 60_000, threshold: 3 },
        { kind: 'absence', id: 'c', silentForMs: 10 },
        { kind: 'absence', id: 'd' },
        { kind: 'rate', id: 'e', perSecond: 0 },
        { kind: 'rate', id: 'f', perSecond: 1, direction: 'up' },
        { kind: 'window', id: 'g', aggregate: 'median', windowMs: 60_000, threshold: 1 },
        { kind: 'window', id: 'h', aggregate: 'mean', windowMs: 60_000, stepMs: 7_000, threshold: 1 },
        { kind: 'window', id: 'i', aggregate: 'max', windowMs: 86_400_000, stepMs: 60_000, threshold: 1 },
        { kind: 'window', id: 'j', aggregate: 'count', threshold: 1 },
      ]),
    ).toEqual([
      'rules[0] (a): kind: must be one of threshold, absence, rate, window, got "sometimes"',
      'rules[1] (b): threshold: Unexpected property',
      'rules[2] (c): silentForMs: Expected integer to be greater or equal to 1000',
      'rules[3] (d): silentForMs: Expected required property',
      'rules[4] (e): perSecond: Expected number to be greater than 0',
      'rules[5] (f): direction: Expected union value',
      'rules[6] (g): aggregate: Expected union value',
      'rules[7] (h): stepMs: 7000 must divide windowMs 60000',
      'rules[8] (i): stepMs: 60000 splits windowMs into 1440 steps; at most 60',
      'rules[9] (j): windowMs: Expected required property',
    ]);
  });
});
