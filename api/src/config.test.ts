import { expect, it } from 'bun:test';
import { ConfigError } from 'core';
import { loadApiConfig, rawRetentionDays } from './config.ts';

it('keeps every raw reading by default where they are compressed (30 days where not) and rollups forever, and refuses rollups kept shorter than readings', () => {
  const defaults = loadApiConfig({});
  expect([defaults.retainRawDays, defaults.retainRollupDays, defaults.rollupCompactMs]).toEqual([
    undefined,
    undefined,
    10_000,
  ]);
  expect([rawRetentionDays(defaults, true), rawRetentionDays(defaults, false)]).toEqual([0, 30]);
  const seven = loadApiConfig({ RETAIN_RAW_DAYS: '7' });
  expect([rawRetentionDays(seven, true), rawRetentionDays(seven, false)]).toEqual([7, 7]);
  expect(rawRetentionDays(loadApiConfig({ RETAIN_RAW_DAYS: '0' }), false)).toBe(0);
  expect(loadApiConfig({ RETAIN_RAW_DAYS: '0', RETAIN_ROLLUP_DAYS: '7' }).retainRollupDays).toBe(7);
  expect(() => loadApiConfig({ RETAIN_RAW_DAYS: '90', RETAIN_ROLLUP_DAYS: '30' })).toThrow(ConfigError);
  expect(() => loadApiConfig({ RETAIN_RAW_DAYS: '90', RETAIN_ROLLUP_DAYS: '30' })).toThrow(
    /RETAIN_ROLLUP_DAYS: must be at least RETAIN_RAW_DAYS \(90\)/,
  );
  expect(() => loadApiConfig({ RETAIN_RAW_DAYS: '-1' })).toThrow(/RETAIN_RAW_DAYS/);
});
