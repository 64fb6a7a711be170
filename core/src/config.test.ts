import { describe, expect, it } from 'bun:test';
import { ConfigError, env, loadConfig } from './config.ts';
import { commonSettings } from './settings.ts';

const spec = {
  ...commonSettings,
  devices: env.int('DEVICES', 5, { min: 1, max: 100_000 }),
  threshold: env.number('ALERT_THRESHOLD', 50),
  verbose: env.bool('VERBOSE', false),
  webhook: env.url('ALERT_WEBHOOK_URL', undefined, ['http:', 'https:']),
};

describe('loadConfig', () => {
  it('gives the documented defaults when nothing is set', () => {
    const config = loadConfig(spec, {});
    expect(config).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      redisClusterNodes: [],
      redisSentinels: [],
      redisMasterName: 'telemetry',
      redisSentinelPassword: undefined,
      redisMinReplicas: undefined,
      redisWaitMs: 1_000,
      readingsStream: 'readings',
      alertsStream: 'alerts',
      streamPartitions: 1,
      keyPrefix: '',
      logLevel: 'info',
      heartbeatIntervalMs: 2_000,
      heartbeatFile: undefined,
      frameReadings: 500,
      shutdownTimeoutMs: 10_000,
      devices: 5,
      threshold: 50,
      verbose: false,
      webhook: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses set values and treats empty strings as unset', () => {
    const config = loadConfig(spec, {
      DEVICES: '12',
      ALERT_THRESHOLD: '-2.5',
      VERBOSE: 'yes',
      LOG_LEVEL: 'debug',
      READINGS_STREAM: '',
    });
    expect(config.devices).toBe(12);
    expect(config.threshold).toBe(-2.5);
    expect(config.verbose).toBe(true);
    expect(config.logLevel).toBe('debug');
    expect(config.readingsStream).toBe('readings');
  });

  it('names every bad key in one error', () => {
    let caught: unknown;
    try {
      loadConfig(spec, {
        DEVICES: 'five',
        ALERT_THRESHOLD: 'NaN',
        REDIS_URL: 'http://x',
        LOG_LEVEL: 'loud',
        VERBOSE: 'maybe',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems.map((p) => p.key).sort()).toEqual([
      'ALERT_THRESHOLD',
      'DEVICES',
      'LOG_LEVEL',
      'REDIS_URL',
      'VERBOSE',
    ]);
    expect(error.message).toContain('DEVICES: must be a whole number, got "five"');
    expect(error.message).toContain('LOG_LEVEL: must be one of debug, info, warn, error');
    expect(error.message).toContain('REDIS_URL: must use redis: or rediss:');
  });

  it('enforces ranges', () => {
    expect(() => loadConfig(spec, { DEVICES: '0' })).toThrow('DEVICES: must be at least 1');
    expect(() => loadConfig(spec, { DEVICES: '99999999999999999999' })).toThrow('DEVICES: is too large');
  });
});
