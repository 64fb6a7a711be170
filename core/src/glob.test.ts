import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { compileGlob, globMatches } from './glob.ts';

/** The meaning of a glob, by a RegExp: the reference the linear matcher must agree with on small inputs. */
const byRegExp = (glob: string, name: string) =>
  new RegExp(`^${glob.replace(/[.]/g, '\\.').replaceAll('*', '.*')}$`).test(name);

describe('globs', () => {
  it('match as `*` means any run of characters, everything else itself', () => {
    expect(globMatches('*', '')).toBe(true);
    expect(globMatches('pump-*', 'pump-7')).toBe(true);
    expect(globMatches('pump-*', 'pump-')).toBe(true);
    expect(globMatches('pump-*', 'pum')).toBe(false);
    expect(globMatches('*-7', 'pump-7')).toBe(true);
    expect(globMatches('p*m*7', 'pump-7')).toBe(true);
    expect(globMatches('a*a', 'a')).toBe(false);
    expect(globMatches('a*a', 'aa')).toBe(true);
    expect(globMatches('*ab*ab*', 'abab')).toBe(true);
    expect(globMatches('*ab*ab*', 'aba')).toBe(false);
    expect(globMatches('pump.7', 'pumpx7')).toBe(false);
    expect(globMatches('**', 'x')).toBe(true);
  });

  it('agree with the RegExp meaning on every small glob and name', () => {
    const text = (max: number) => fc.string({ unit: fc.constantFrom('a', 'b', '.'), maxLength: max });
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*'), maxLength: 8 });
    fc.assert(
      fc.property(glob, text(10), (pattern, name) => compileGlob(pattern).matches(name) === byRegExp(pattern, name)),
      { numRuns: 5_000 },
    );
  });
});
