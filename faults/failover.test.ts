/**
 * The Redis primary's machine lost under load: a primary, two replicas and three Sentinels; every
 * service connects through the Sentinels and acknowledges only what a replica holds (WAIT). The
 * primary is killed with SIGKILL and its data directory deleted (the machine is gone); Sentinel
 * promotes a replica. Checked as every fault run: nothing acknowledged lost, nothing stored twice,
 * every threshold transition alerted and recorded once, nothing pending.
 */
import { describe, expect, it } from 'bun:test';
import { rm } from 'node:fs/promises';
import { randomDelay, runScenario } from './harness.ts';

describe('fault: failover', () => {
  it(
    'the primary killed and its data deleted mid-run: a replica is promoted, and the run is exact',
    async () => {
      await runScenario({ workload: { readings: 20_000 }, ha: true }, async (pipeline) => {
        const ha = pipeline.ha;
        if (!ha) throw new Error('no HA layout');
        await randomDelay(800, 2_500);
        expect(pipeline.services.get('producer')?.child.exitCode).toBeNull();
        const primary = await ha.primary();
        await primary.kill('SIGKILL');
        await rm(primary.dir, { recursive: true, force: true });
        await ha.failedOver(primary);
      });
    },
    240_000,
  );
});
