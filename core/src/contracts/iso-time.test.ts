import { describe, expect, it } from 'bun:test';
import { parseIsoTime } from './iso-time.ts';

describe('ISO-8601 times', () => {
  it('reads real moments, with any zone and fraction', () => {
    expect(parseIsoTime('2026-11-22T10:00:00Z')).toBe(Date.UTC(2026, 10, 22, 10));
    expect(parseIsoTime('2026-11-22T10:00:00.123+01:00')).toBe(Date.UTC(2026, 10, 22, 9, 0, 0, 123));
    expect(parseIsoTime('2028-02-29T23:59:59Z')).toBe(Date.UTC(2028, 1, 29, 23, 59, 59));
    // The spellings RFC 3339 and the API's schema allow.
    expect(parseIsoTime('2026-11-22 10:00:00z')).toBe(Date.UTC(2026, 10, 22, 10));
    expect(parseIsoTime('2026-11-22T10:00Z')).toBe(Date.UTC(2026, 10, 22, 10));
    expect(parseIsoTime('2026-11-22T10:00:00+0100')).toBe(Date.UTC(2026, 10, 22, 9));
  });

  it.each([
    '2026-02-30T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-11-22T24:00:00Z',
    '2026-11-22T10:60:00Z',
    '2026-11-22T10:00:60Z',
    '2026-11-22',
    '2026-11-22T10:00:00',
    '22/11/2026',
    'yesterday',
    '',
  ])('refuses %p instead of rolling it over', (text) => {
    expect(parseIsoTime(text)).toBeNaN();
  });
});
