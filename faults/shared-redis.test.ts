/**
 * Two pipelines on one Redis: with KEY_PREFIX every key this pipeline touches — streams, groups'
 * streams, dead letters, alert state, heartbeats, the webhook's pace — lives under the prefix, and
 * the run is exact as without one.
 */
import { describe, expect, it } from 'bun:test';
import { createRedis, pipelineKeys } from 'core';
import { runScenario } from './harness.ts';

describe('KEY_PREFIX', () => {
  it('keeps every key of a whole run under the prefix, and the run exact', async () => {
    await runScenario(
      { workload: { readings: 3_000 }, keyPrefix: 'tenant-a:' },
      async () => {},
      async ({ pipeline, verdict, history }) => {
        expect(history.alerts.length).toBeGreaterThan(0);
        expect(verdict.lost).toEqual([]);
        const raw = createRedis(pipeline.redisServer.url, { name: 'faults-raw' });
        try {
          const keys = await raw.keys('*');
          expect(keys).toEqual(
            expect.arrayContaining(['tenant-a:readings', 'tenant-a:alerts', `tenant-a:${pipelineKeys.workers}`]),
          );
          expect(keys.filter((key) => !key.startsWith('tenant-a:'))).toEqual([]);
        } finally {
          raw.disconnect();
        }
      },
    );
  }, 120_000);
});
