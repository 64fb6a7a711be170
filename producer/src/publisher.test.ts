import { expect, it } from 'bun:test';
import { createLogger, createRedis, newEventId, type Reading } from 'core';
import { freePort, waitFor } from 'core/testing';
import { createPublisher } from './publisher.ts';

const reading = (value: number): Reading => ({
  id: newEventId(),
  deviceId: 'd',
  metric: 'kwh',
  value,
  unit: 'kWh',
  ts: Date.now(),
});

it('keeps at most maxBuffered readings while Redis is away, dropping the oldest and saying so', async () => {
  // Nothing listens on this port: Redis is "away" for the whole test.
  const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, { name: 'away', failFast: true });
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'producer', pretty: false, write: (line) => lines.push(JSON.parse(line)) });
  const publisher = createPublisher({ redis, stream: 'readings', logger, maxBuffered: 10 });
  try {
    publisher.publish(Array.from({ length: 25 }, (_, i) => reading(i)));
    expect(publisher.stats()).toEqual({ sent: 0, buffered: 10, dropped: 15 });
    const warning = await waitFor(() => lines.find((line) => line.event === 'buffer_full_dropped_oldest'), {
      what: 'drop warning',
    });
    expect(warning).toMatchObject({ level: 'error', dropped: 15, maxBuffered: 10 });
  } finally {
    expect(await publisher.close(100)).toBe(10);
    redis.disconnect();
  }
});
