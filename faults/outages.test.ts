/**
 * Redis crashes and comes back from its AOF; the API is unreachable for a minute; an XADD is
 * applied but its reply is lost. Each run must end exact: nothing acknowledged lost, nothing
 * stored twice, every transition alerted once, nothing pending.
 */
import { describe, expect, it } from 'bun:test';
import { startTcpProxy, streamReadings } from 'core/testing';
import { randomDelay, runScenario } from './harness.ts';

/** How long the API stays unreachable; 60 s unless FAULT_API_OUTAGE_MS says otherwise. */
const API_OUTAGE_MS = Number(process.env.FAULT_API_OUTAGE_MS ?? 60_000);

describe('fault: outages', () => {
  it('Redis kill -9, restarted from its AOF: producer and consumers carry on where they were', async () => {
    await runScenario({ workload: { readings: 20_000 } }, async (pipeline) => {
      await randomDelay(800, 3_500);
      expect(pipeline.services.get('producer')?.child.exitCode).toBeNull();
      await pipeline.redisServer.kill('SIGKILL');
      await Bun.sleep(1_500);
      await pipeline.redisServer.restart();
    });
  }, 180_000);

  it(
    `API unreachable for ${API_OUTAGE_MS / 1_000} s (stopped, connections hang): consumer-store waits and resends`,
    async () => {
      await runScenario({ workload: { readings: 20_000 } }, async (pipeline) => {
        await randomDelay(800, 3_500);
        const api = pipeline.services.get('api');
        api?.child.kill('SIGSTOP');
        await Bun.sleep(API_OUTAGE_MS);
        api?.child.kill('SIGCONT');
      });
    },
    API_OUTAGE_MS + 180_000,
  );

  it('an XADD applied whose reply is lost: the producer resends, storage and alerts stay exact', async () => {
    let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
    try {
      await runScenario(
        {
          workload: { readings: 20_000 },
          producerRedisUrl: async (port) => {
            proxy ??= await startTcpProxy(port);
            return proxy.url;
          },
        },
        async () => {
          for (let i = 0; i < 3; i++) {
            await randomDelay(500, 1_000);
            proxy?.dropReplies(1);
          }
        },
        async ({ pipeline }) => {
          // Redis applied the batches whose replies were lost, and then got them again.
          expect((await streamReadings(pipeline.redis, 'readings')).length).toBeGreaterThan(pipeline.offered.length);
        },
      );
      expect(proxy?.dropped).toBeGreaterThan(0);
    } finally {
      proxy?.stop();
    }
  }, 180_000);
});
