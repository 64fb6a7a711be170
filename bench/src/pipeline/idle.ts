/** Idle footprint: resident memory of each worker a few seconds after start, with nothing to do. */
import type { Measurement } from './report.ts';
import { startStack } from './stack.ts';

const TARGET_MB = 80;

export async function idleScenario(): Promise<Measurement[]> {
  const stack = await startStack();
  try {
    await Bun.sleep(3_000);
    const usage = await stack.usage();
    const workers = ['consumer-store', 'consumer-alert'] as const;
    const rss = Object.fromEntries(workers.map((name) => [name, usage[name]?.rssMb ?? Number.NaN]));
    return [
      {
        scenario: 'idle',
        name: 'idle RSS: consumer-store / consumer-alert (API)',
        result: `${workers.map((name) => `${rss[name]?.toFixed(0)} MB`).join(' / ')} (${usage.api?.rssMb.toFixed(0)} MB)`,
        target: `≤ ${TARGET_MB} MB each`,
        met: workers.every((name) => (rss[name] ?? Number.POSITIVE_INFINITY) <= TARGET_MB),
        data: { ...rss, api: usage.api?.rssMb },
      },
    ];
  } finally {
    await stack.stop();
  }
}
