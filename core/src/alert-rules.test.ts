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
