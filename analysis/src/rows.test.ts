import { expect, it } from 'bun:test';
import { parseTime, rowParser } from './rows.ts';

it('parses export times exactly, in any order, and refuses broken ones', () => {
  for (const iso of [
    '2026-11-22T10:00:59.999Z',
    '1999-01-01T00:00:00.000Z',
    '2026-11-22T10:00:00.001Z',
    '2026-11-22T09:59:30.500Z',
  ]) {
    expect(parseTime(iso)).toBe(Date.parse(iso));
  }
  expect(parseTime('1763800000123')).toBe(1_763_800_000_123);
  expect(parseTime('2026-11-22T10:00:5x.000Z')).toBeNaN();
  expect(parseTime('2026-11-22T10:00:61.000Z')).toBeNaN();
  expect(parseTime('2026-11-22T10:00:00+01:00')).toBe(Date.parse('2026-11-22T09:00:00Z'));
  // Moments that do not exist are broken rows, not another day's readings.
  expect(parseTime('2026-02-30T00:00:00.000Z')).toBeNaN();
  expect(parseTime('2026-11-22T24:00:00.000Z')).toBeNaN();
});

it('reads columns by header name, quoted cells included', () => {
  const parser = rowParser('ts,value,unit,metric,deviceId');
  expect(parser.parse('2026-11-22T10:00:00.000Z,42.5,°C,temp,pump-1')).toEqual({
    deviceId: 'pump-1',
    metric: 'temp',
    value: 42.5,
    ts: Date.parse('2026-11-22T10:00:00Z'),
  });
  expect(parser.parse('"2026-11-22T10:00:00.000Z","7","km/h","speed","car,1"')).toEqual({
    deviceId: 'car,1',
    metric: 'speed',
    value: 7,
    ts: Date.parse('2026-11-22T10:00:00Z'),
  });
  expect(() => rowParser('deviceId,value')).toThrow('missing metric, ts');
});
