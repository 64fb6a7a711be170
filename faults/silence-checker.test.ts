import { describe, expect, it } from 'bun:test';
import type { Alert } from 'core';
import { checkSilences } from './silence-checker.ts';

const alert = (deviceId: string, state: Alert['state'], ts: number, readingId: string): Alert => ({
  id: `${deviceId}-${state}-${ts}`,
  ruleId: 'quiet',
  deviceId,
  metric: 'kwh',
  state,
  severity: 'warning',
  ts,
  readingId,
});

describe('the silence checker', () => {
  const arrivals = new Map([
    [
      'a',
      [
        { readingId: 'a1', arrival: 0 },
        { readingId: 'a2', arrival: 100 },
        { readingId: 'a3', arrival: 5_000 },
      ],
    ],
    [
      'b',
      [
        { readingId: 'b1', arrival: 0 },
        { readingId: 'b2', arrival: 100 },
      ],
    ],
  ]);

  it('passes the alerts the model implies: one firing dated silentForMs after the reading before the gap, one resolved by the reading after', () => {
    expect(
      checkSilences(arrivals, [alert('a', 'firing', 1_100, 'a2'), alert('a', 'resolved', 5_000, 'a3')], 1_000),
    ).toEqual({
      missed: [],
      false: [],
      unresolved: [],
    });
  });

  it('names a silence missed, a device called silent falsely or twice, and a return resolved twice or not at all', () => {
    const verdict = checkSilences(
      arrivals,
      [alert('b', 'firing', 1_100, 'b2'), alert('a', 'resolved', 5_000, 'a3'), alert('a', 'resolved', 5_000, 'a3')],
      1_000,
    );
    expect(verdict).toEqual({ missed: ['a@1100/a2'], false: ['b@1100/b2'], unresolved: ['a@a3'] });
    expect(
      checkSilences(arrivals, [alert('a', 'firing', 1_100, 'a2'), alert('a', 'firing', 1_100, 'a2')], 1_000),
    ).toEqual({
      missed: [],
      false: ['a@1100/a2'],
      unresolved: ['a@a3'],
    });
  });

  it('counts a gap across a restart of Redis from the restart: nobody could report while it was down', () => {
    // a's gap 100 → 5,000 spans a restart at 4,500: 500 ms from it, no silence; b's 100 → 5,000 one at 3,000: 2 s, silent from it.
    const across = new Map([
      [
        'a',
        [
          { readingId: 'a1', arrival: 100 },
          { readingId: 'a2', arrival: 5_000 },
        ],
      ],
      [
        'b',
        [
          { readingId: 'b1', arrival: 100 },
          { readingId: 'b2', arrival: 5_000 },
        ],
      ],
    ]);
    expect(checkSilences(new Map([...across].slice(0, 1)), [], 1_000, [4_500])).toEqual({
      missed: [],
      false: [],
      unresolved: [],
    });
    expect(checkSilences(new Map([...across].slice(1)), [], 1_000, [3_000])).toEqual({
      missed: ['b@4000/b1'],
      false: [],
      unresolved: ['b@b2'],
    });
  });
});
