/**
 * The pipeline on PostgreSQL: two API instances, one killed -9 mid-run and restarted; PostgreSQL
 * itself killed -9 mid-run and restarted. Exact either way: consumer-store keeps what it could not
 * store pending, the API answers 503 with Retry-After meanwhile (never a 500) and /health says down.
 */
import { describe, expect, it } from 'bun:test';
import { readingBody } from '../api/src/test-helpers.ts';
import { randomDelay, runScenario } from './harness.ts';

const SCENARIO_TIMEOUT_MS = 180_000;

describe('fault: PostgreSQL backend', () => {
  it(
    'two API instances: one killed -9 mid-run and restarted, exact storage and alerts',
    async () => {
      await runScenario({ workload: { readings: 20_000 }, backend: 'postgres', apiInstances: 2 }, async (pipeline) => {
        await randomDelay(800, 3_500);
        expect(pipeline.services.get('producer')?.child.exitCode).toBeNull();
        await pipeline.kill('api-2');
        await Bun.sleep(1_000);
        await pipeline.start('api-2');
      });
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'PostgreSQL killed -9 mid-run and restarted: 503 with Retry-After and /health down meanwhile, exact afterwards',
    async () => {
      await runScenario({ workload: { readings: 20_000 }, backend: 'postgres' }, async (pipeline) => {
        await randomDelay(800, 3_000);
        expect(pipeline.services.get('producer')?.child.exitCode).toBeNull();
        await pipeline.postgres?.kill();
        const api = pipeline.apiUrls[0] as string;
        const write = await fetch(`${api}/readings`, {
          method: 'POST',
          headers: { authorization: 'Bearer faults', 'content-type': 'application/json' },
          body: JSON.stringify(readingBody({ deviceId: 'during-outage', ts: new Date().toISOString() })),
        });
        expect(write.status).toBe(503);
        expect(write.headers.get('retry-after')).not.toBeNull();
        const health = await fetch(`${api}/health`);
        expect(health.status).toBe(503);
        expect(((await health.json()) as { status: string }).status).toBe('down');
        await Bun.sleep(2_000);
        await pipeline.postgres?.restart();
      });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
