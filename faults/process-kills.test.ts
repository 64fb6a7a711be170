/**
 * kill -9 of each service at a random point of a run, then a restart: nothing acknowledged is
 * lost, nothing is stored twice or invented, every transition is alerted once, nothing pending.
 */
import { describe, expect, it } from 'bun:test';
import { type ServiceName, randomDelay, restartConsumers, runScenario } from './harness.ts';

const SCENARIO_TIMEOUT_MS = 180_000;

describe('fault: kill -9 and restart', () => {
  for (const service of [
    'producer',
    'consumer-store',
    'consumer-alert',
    'api',
  ] as const satisfies readonly ServiceName[]) {
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

  it(
    'the readings in 4 partitions on one Redis: consumer-store and consumer-alert killed -9 mid-run, exact',
    async () => {
      const verdict = await runScenario({ workload: { readings: 20_000 }, partitions: 4 }, async (pipeline) => {
        await randomDelay(800, 3_500);
        expect(pipeline.services.get('producer')?.child.exitCode).toBeNull();
        await restartConsumers(pipeline);
      });
      expect(verdict.lost).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'consumer-store scaled out: one of two instances dies holding entries, the other takes them over',
    async () => {
      let heldAtDeath = 0;
      await runScenario({ workload: { readings: 20_000 } }, async (pipeline) => {
        const name = 'faults-consumer-store-2';
        const second = pipeline.startInstance('consumer-store', name);
        await randomDelay(1_500, 3_000);
        // Frozen, it can neither ack nor read: kill it at a moment it holds unacknowledged entries.
        while (heldAtDeath === 0 && pipeline.services.get('producer')?.child.exitCode === null) {
          second.child.kill('SIGSTOP');
          const held = (await pipeline.redis.xpending('readings', 'store', '-', '+', 10, name)) as unknown[];
          heldAtDeath = held.length;
          if (heldAtDeath === 0) {
            second.child.kill('SIGCONT');
            await Bun.sleep(20);
          }
        }
        await second.kill('SIGKILL');
      });
      expect(heldAtDeath).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
