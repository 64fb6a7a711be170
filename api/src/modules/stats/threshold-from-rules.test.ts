import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createLogger, createRedis } from 'core';
import {
  type RedisServer,
  type ServiceProcess,
  startRedisServer,
  startService,
  uniqueName,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, readingBody, testStore } from '../../test-helpers.ts';
import { ruleThreshold } from './index.ts';

describe("/stats's threshold", () => {
  it('is the first rule covering the metric and device, else none', () => {
    const rules = [
      { id: 'pumps', metric: 'kwh', device: 'pump-*', direction: 'above' as const, threshold: 80 },
      { id: 'cold', metric: 'temp', device: '*', direction: 'below' as const, threshold: 5 },
      { id: 'any', metric: '*', device: '*', direction: 'above' as const, threshold: 60 },
    ];
    expect(ruleThreshold(rules, { metric: 'kwh', deviceId: 'pump-7' })).toBe(80);
    expect(ruleThreshold(rules, { metric: 'kwh', deviceId: 'meter-1' })).toBe(60);
    // A rule for some devices does not speak for a window over every device.
    expect(ruleThreshold(rules, { metric: 'kwh' })).toBe(60);
    // Over-threshold counts are "above": a "below" rule gives none.
    expect(ruleThreshold(rules.slice(0, 2), { metric: 'temp' })).toBeUndefined();
  });

  describe('with a live alerting service', () => {
    let server: RedisServer;
    let redis: Redis;
    let alerting: ServiceProcess;
    beforeAll(async () => {
      server = await startRedisServer();
      redis = createRedis(server.url, { name: 'api', failFast: true, commandTimeoutMs: 1_000 });
      alerting = startService(join(import.meta.dir, '../../../../consumer-alert/src/index.ts'), {
        REDIS_URL: server.url,
        READINGS_STREAM: uniqueName('readings'),
        ALERT_THRESHOLD: '70',
        HEARTBEAT_INTERVAL_MS: '200',
      });
    });
    afterAll(async () => {
      await alerting.kill('SIGTERM');
      redis.disconnect();
      await server.stop();
    });

    it('defaults to the threshold alerts fire at, not 50; ?threshold= still wins', async () => {
      const app = createApp({
        store: testStore(),
        config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
        logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
        pipeline: { redis, streams: [], expectedWorkers: [], lagDegraded: 1_000 },
      });
      const call = async (method: string, path: string, body?: unknown) =>
        (
          await app.handle(
            new Request(`http://localhost${path}`, {
              method,
              headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
              ...(body ? { body: JSON.stringify(body) } : {}),
            }),
          )
        ).json() as Promise<any>;
      await call('POST', '/readings/batch', { readings: [readingBody({ value: 60 }), readingBody({ value: 80 })] });
      const stats = await waitFor(
        async () => {
          const answer = await call('GET', '/stats');
          return answer.threshold === 70 && answer;
        },
        { what: 'the rules reported' },
      );
      expect(stats.perDevice[0].overThreshold).toBe(1);
      const asked = await call('GET', '/stats?threshold=50');
      expect([asked.threshold, asked.perDevice[0].overThreshold]).toEqual([50, 2]);
    });
  });
});
