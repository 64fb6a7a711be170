import { describe as group, expect, it } from 'bun:test';
import type { Alert, Reading } from 'core';
import { type History, check, clean, expectedTransitions } from './checker.ts';

const reading = (id: string, deviceId: string, value: number, ts: number): Reading => ({
  id,
  deviceId,
  metric: 'kwh',
  value,
  unit: 'kWh',
  ts,
});
const offered = [
  reading('r1', 'd1', 10, 1),
  reading('r2', 'd1', 60, 2),
  reading('r3', 'd2', 70, 3),
  reading('r4', 'd1', 50, 4),
];
const alert = (id: string, readingId: string, state: Alert['state'], deviceId = 'd1'): Alert => ({
  id,
  ruleId: 'default',
  deviceId,
  metric: 'kwh',
  value: 1,
  threshold: 50,
  state,
  severity: 'warning',
  ts: 1,
  readingId,
});
const cleanRun = (): History => ({
  offered,
  acked: ['r1', 'r2', 'r3', 'r4'],
  stored: ['r1', 'r2', 'r3', 'r4'],
  alerts: [alert('a1', 'r2', 'firing'), alert('a2', 'r3', 'firing', 'd2'), alert('a3', 'r4', 'resolved')],
  recorded: ['a3', 'a2', 'a1'],
  delivered: ['a1', 'a2', 'a3'],
  pending: 0,
  deadLetters: 0,
});

group('fault checker', () => {
  it('models the default rule: fire above the threshold, resolve at or below it', () => {
    expect(expectedTransitions(offered, 50)).toEqual(['r2/firing', 'r3/firing', 'r4/resolved']);
  });

  it('passes a run where everything arrived exactly once', () => {
    expect(clean(check(cleanRun(), 50))).toBe(true);
  });

  it('finds an acknowledged reading that was not stored', () => {
    const verdict = check({ ...cleanRun(), stored: ['r1', 'r2', 'r4'] }, 50);
    expect(verdict.lost).toEqual(['r3']);
    expect(clean(verdict)).toBe(false);
  });

  it('finds a stored row nobody sent and a row stored twice', () => {
    const verdict = check({ ...cleanRun(), stored: ['r1', 'r2', 'r2', 'r3', 'r4', 'zz'] }, 50);
    expect(verdict.unexpected).toEqual(['zz']);
    expect(verdict.duplicates).toEqual(['r2']);
  });

  it('finds a missing transition, a doubled one and one the rule does not imply', () => {
    const run = cleanRun();
    const verdict = check(
      {
        ...run,
        alerts: [run.alerts[0] as Alert, run.alerts[0] as Alert, alert('a9', 'r1', 'firing')],
        delivered: undefined,
      },
      50,
    );
    expect(verdict.missingAlerts).toEqual(['r3/firing', 'r4/resolved']);
    expect(verdict.extraAlerts).toEqual(['r2/firing', 'r1/firing']);
  });

  it('finds alerts the webhook never got or got twice, and anything left pending', () => {
    const verdict = check({ ...cleanRun(), delivered: ['a1', 'a1', 'a3'], pending: 2, deadLetters: 1 }, 50);
    expect(verdict.undelivered).toEqual(['a2']);
    expect(verdict.redelivered).toEqual(['a1']);
    expect(clean({ ...verdict, undelivered: [], redelivered: [] })).toBe(false);
  });

  it('finds alerts missing from the alert history, recorded twice, or recorded and never raised', () => {
    const verdict = check({ ...cleanRun(), recorded: ['a3', 'a3', 'a1', 'zz'] }, 50);
    expect(verdict.unrecorded).toEqual(['a2']);
    expect(verdict.rerecorded).toEqual(['a3', 'zz']);
    expect(clean(verdict)).toBe(false);
  });
});
