import { expect, it } from 'bun:test';
import { ConfigError } from 'core';
import { loadApiConfig } from './config.ts';

it('keeps raw readings 30 days by default and rollups forever, and refuses rollups kept shorter than readings', () => {
  const defaults = loadApiConfig({});
  expect([defaults.retainRawDays, defaults.retainRollupDays, defaults.rollupCompactMs]).toEqual([
    30,
    undefined,
    10_000,
  ]);
  expect(loadApiConfig({ RETAIN_RAW_DAYS: '0', RETAIN_ROLLUP_DAYS: '7' }).retainRollupDays).toBe(7);
  expect(() => loadApiConfig({ RETAIN_RAW_DAYS: '90', RETAIN_ROLLUP_DAYS: '30' })).toThrow(ConfigError);
  expect(() => loadApiConfig({ RETAIN_RAW_DAYS: '90', RETAIN_ROLLUP_DAYS: '30' })).toThrow(
    /RETAIN_ROLLUP_DAYS: must be at least RETAIN_RAW_DAYS \(90\)/,
  );
  expect(() => loadApiConfig({ RETAIN_RAW_DAYS: '-1' })).toThrow(/RETAIN_RAW_DAYS/);
});
