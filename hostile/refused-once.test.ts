import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { encodeReading, groupsCaughtUp, newEventId, readDeadLetters, streamKeys } from 'core';
import { waitFor } from 'core/testing';
import { type Pipeline, startPipeline } from '../faults/harness.ts';

// Hostile entries in the readings stream, read by both groups (store and alerts): a reading the
// contract refuses was dead-lettered by each group, doubling what /health reported.
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ workload: { readings: 0 } });
});
afterAll(async () => {
  await pipeline.stop();
});

describe('a refused reading', () => {
  it('has one dead letter, whichever groups refuse it', async () => {
    const { redis } = pipeline;
    const good = { id: newEventId(), deviceId: 'pump-1', metric: 'kwh', value: 1, unit: 'kWh', ts: Date.now() };
    await redis.xadd('readings', '*', ...encodeReading(good));
    await redis.xadd('readings', '*', ...encodeReading({ ...good, id: newEventId(), value: Number.NaN }));
    await redis.xadd('readings', '*', 'v', '2', 'payload', '{"not":"a reading"}');
    await waitFor(() => groupsCaughtUp(redis, 'readings', ['store', 'alerts']), { what: 'both groups caught up' });
    const letters = await readDeadLetters(redis, streamKeys(redis, 'readings').dead);
    expect(letters).toHaveLength(2);
    expect(letters.every((letter) => letter.group === 'store')).toBe(true);
    const health = (await (await fetch(`${pipeline.apiUrls[0]}/health`)).json()) as {
      deadLetters: Array<{ stream: string; entries: number }>;
    };
    expect(health.deadLetters.find((dead) => dead.stream === streamKeys(redis, 'readings').dead)?.entries).toBe(2);
  });
});
