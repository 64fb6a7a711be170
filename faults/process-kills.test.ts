/**
 * kill -9 of each service at a random point of a run, then a restart: nothing acknowledged is
 * lost, nothing is stored twice or invented, every transition is alerted once, nothing pending.
 */
import { describe, expect, it } from 'bun:test';
import { type ServiceName, randomDelay, runScenario } from './harness.ts';

const SCENARIO_TIMEOUT_MS = 180_000;

describe('fault: kill -9 and restart', () => {
  for (const service of ['producer', 'consumer-store', 'consumer-alert', 'api'] as const satisfies readonly ServiceName[]) {
    it(
      `${service}: exact storage and alerts after a crash mid-run`,
      async () => {
        const verdict = await runScenario({ workload: { readings: 20_000 } }, async (pipeline) => {
          // The producer runs ~5 s at 4,000/s: the crash lands somewhere in its middle.
          await randomDelay(800, 3_500);
          // The fault lands mid-run, not after the work is done.
          expect(pipeline.services.get('producer')?.child.exitCode).toBeNull();
          await pipeline.kill(service);
          await Bun.sleep(500);
          // A restarted producer replays the whole file: every resent reading has its old id.
          await pipeline.start(service);
        });
        expect(verdict.lost).toEqual([]);
      },
      SCENARIO_TIMEOUT_MS,
    );
  }
});
