import { describe, expect, it } from 'bun:test';
import { type RuleInput, compileRule, globMatches, silenceMatches } from 'core';

// Hostile input: globs that make a backtracking matcher take exponential time. A RegExp of `.*`
// per star took 33 s for the first against a 64-character id; the second did not finish.
const PATHOLOGICAL = ['*a*a*a*a*a*a*a*a*b', `${'*a'.repeat(10)}*b`, `${'*a'.repeat(30)}*b`, `*${'a*'.repeat(40)}b`];
const LONG_IDS = ['a'.repeat(64), 'a'.repeat(128), `${'a'.repeat(127)}c`];

describe('pathological globs', () => {
  it('match 128-character ids in every place a glob is used, at once', () => {
    for (const glob of PATHOLOGICAL) {
      for (const id of LONG_IDS) {
        expect(globMatches(glob, id)).toBe(false);
        const rule = compileRule({ id: 'r', threshold: 1, device: glob, metric: glob } as RuleInput);
        expect(rule.matches({ deviceId: id, metric: id })).toBe(false);
        expect(
          silenceMatches({ device: glob, rule: '*', metric: '*' }, { deviceId: id, ruleId: 'r', metric: 'm' }),
        ).toBe(false);
      }
      expect(globMatches(glob.replace(/b$/, ''), 'a'.repeat(128))).toBe(true);
    }
  });
});
