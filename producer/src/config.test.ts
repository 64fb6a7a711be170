import { describe, expect, it } from 'bun:test';
import { ConfigError } from 'core';
import { loadProducerConfig } from './config.ts';

describe('loadProducerConfig', () => {
  it('has the documented defaults', () => {
    const config = loadProducerConfig([], {});
    expect(config).toMatchObject({
      devices: 5,
      intervalMs: 1_000,
      valueMin: 10,
      valueMax: 100,
      decimals: 0,
      metric: 'kwh',
      unit: 'kWh',
    });
    expect(config.count).toBeUndefined();
  });

  it('lets flags win over the environment', () => {
    const config = loadProducerConfig(['--devices', '7', '--rate', '250', '--count', '10'], { DEVICES: '3' });
    expect(config).toMatchObject({ devices: 7, rate: 250, count: 10 });
  });

  it('names every bad variable and flag', () => {
    const attempt = () => loadProducerConfig(['--count=-1'], { DEVICES: 'many', INTERVAL_MS: '0' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /DEVICES: must be a whole number[\s\S]*INTERVAL_MS: must be at least[\s\S]*COUNT: must be at least 1/,
    );
  });

  it('refuses an empty or inverted value range', () => {
    expect(() => loadProducerConfig(['--min', '60', '--max', '50'], {})).toThrow(
      'VALUE_MAX: must not be below VALUE_MIN',
    );
    expect(() => loadProducerConfig(['--min', '10.2', '--max', '10.8'], {})).toThrow(
      'VALUE_MIN: no value with 0 decimals',
    );
  });

  it('refuses unknown flags in one line that names the flag and points at --help', () => {
    expect(() => loadProducerConfig(['--devcies', '3'], {})).toThrow(
      "arguments: Unknown option '--devcies' (see --help)",
    );
  });
});
