/**
 * `bun run bench:storm`: an alert storm must not slow storage. A cold backlog of N readings
 * (default 200,000) from 1,000 devices, values at random in 40–60, waits in the stream when
 * consumer-store and consumer-alert start together: once with the rule's threshold at 50 (about
 * every other reading a transition: a storm), once at 1,000 (the same backlog, the same storage
 * work, no transition). Measured per run: the store
 * group's rate, from the consumers' process start to the last row committed, and how long alerts
 * took to catch up (evaluated, notified and recorded) after. Target: the storm's store rate at
 * least 85% of the calm one's, measured in the same run. Flags: --readings N.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { groupsCaughtUp } from 'core';
import { startService } from 'core/testing';
import { backlogStack } from './backlog-stack.ts';
import { openStore } from './storage.ts';
import { processUsage } from './support.ts';

const { values } = parseArgs({ options: { readings: { type: 'string', default: '200000' } } });
const total = Number(values.readings);
if (!Number.isInteger(total) || total < 1) {
  console.error(`storm: --readings must be a positive integer, got ${JSON.stringify(values.readings)}`);
  process.exit(2);
}
const root = join(import.meta.dir, '../..');

/** Store rate (readings/s) and the seconds alerting took past storage, for one backlog. */
async function drain(
  threshold: number,
): Promise<{ storeRate: number; alertsAfter: number; alerts: number; cpu: string }> {
  const stack = await backlogStack({ name: 'storm', total, valueOf: () => 40 + Math.random() * 20 });
  const { redis, api, databaseUrl } = stack;
  const services = [];
  try {
    const env = { ...stack.env, ALERT_THRESHOLD: String(threshold) };
    const started = performance.now();
    services.push(
      startService(join(root, 'consumer-store/src/index.ts'), env),
      startService(join(root, 'consumer-alert/src/index.ts'), env),
    );
    const store = await openStore(databaseUrl);
    let stored = 0;
    try {
      for (;;) {
        await Bun.sleep(50);
        if (!stored && (await groupsCaughtUp(redis, 'readings', ['store']).catch(() => false)))
          if ((await store.count({}).catch(() => 0)) >= total) stored = performance.now();
        if (
          stored &&
          (await groupsCaughtUp(redis, 'readings', ['alerts']).catch(() => false)) &&
          (await groupsCaughtUp(redis, 'alerts', ['notify', 'history']).catch(() => false))
        )
          break;
      }
    } finally {
      await store.close();
    }
    const storeSeconds = (stored - started) / 1_000;
    const [apiCpu, storeCpu, alertCpu] = await Promise.all(
      [api.pid, services[0]?.pid, services[1]?.pid].map(async (pid) => (await processUsage(pid as number)).cpuSeconds),
    );
    const cpu = `api ${apiCpu?.toFixed(1)}, consumer-store ${storeCpu?.toFixed(1)}, consumer-alert ${alertCpu?.toFixed(1)} CPU s`;
    return {
      cpu,
      storeRate: Math.round(total / storeSeconds),
      alertsAfter: (performance.now() - stored) / 1_000,
      alerts: await redis.xlen('alerts'),
    };
  } finally {
    await stack.stop(services);
  }
}

console.log('| backlog | store group | alerts caught up after storage | CPU, whole run |\n|---|---|---|---|');
const rounds = Number(process.env.STORM_ROUNDS ?? 2);
for (let round = 1; round <= rounds; round++) {
  // The same values both times; only the rule differs: storage does the same work.
  const calm = await drain(1_000);
  const storm = await drain(50);
  for (const [name, run] of [
    ['threshold 1,000: no transition', calm],
    ['threshold 50: a storm', storm],
  ] as const)
    console.log(
      `| ${total.toLocaleString()} readings, ${name}: ${run.alerts.toLocaleString()} alerts | ${run.storeRate.toLocaleString()} readings/s | +${run.alertsAfter.toFixed(1)} s | ${run.cpu} |`,
    );
  console.log(
    `round ${round}: storm / calm store rate ${(storm.storeRate / calm.storeRate).toFixed(2)} (target ≥ 0.85)`,
  );
}
