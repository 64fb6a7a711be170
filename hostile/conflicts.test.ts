import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import {
  type Reading,
  decodeAlert,
  encodeReading,
  groupsCaughtUp,
  newEventId,
  readDeadLetters,
  streamKeys,
} from 'core';
import { waitFor } from 'core/testing';
import { type Pipeline, startPipeline } from '../faults/harness.ts';

// Hostile readings: the same id sent again with another value. Storage keeps the first (10);
// alerting fired on the second (99), a value that was never kept.
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ workload: { readings: 0 } });
});
afterAll(async () => {
  await pipeline.stop();
});

const caughtUp = () =>
  waitFor(() => groupsCaughtUp(pipeline.redis, 'readings', ['store', 'alerts']), { what: 'both groups caught up' });
const publish = (reading: Reading) => pipeline.redis.xadd('readings', '*', ...encodeReading(reading));

describe('a reading in conflict with a stored one', () => {
  it('is never evaluated: no alert on a value storage did not keep', async () => {
    const original = {
      id: newEventId(),
      deviceId: 'pump-conflict',
      metric: 'kwh',
      value: 10,
      unit: 'kWh',
      ts: Date.now() - 1_000,
    };
    await publish(original);
    await caughtUp();
    await publish({ ...original, value: 99 });
    await caughtUp();
    // A new reading over the threshold after it does fire: the evaluator is at work.
    const later = { ...original, id: newEventId(), value: 98, ts: Date.now() };
    await publish(later);
    await caughtUp();
    const alerts = (await pipeline.redis.xrange('alerts', '-', '+'))
      .map(([, fields]) => decodeAlert(fields))
      .filter((alert) => alert.deviceId === 'pump-conflict');
    expect(alerts.map((alert) => [alert.state, alert.readingId, alert.value])).toEqual([['firing', later.id, 98]]);
    const stored = (await (await fetch(`${pipeline.apiUrls[0]}/readings/${original.id}`)).json()) as { value: number };
    expect(stored.value).toBe(10);
    const letters = await readDeadLetters(pipeline.redis, streamKeys(pipeline.redis, 'readings').dead);
    expect(letters.filter((letter) => letter.reason.startsWith('conflict'))).toHaveLength(1);
  });
});
