import { describe, expect, it } from 'bun:test';
import { consumeEach, sumStats } from './each-partition.ts';
import { type Consumer, emptyConsumerStats } from './types.ts';

/** A consumer that runs until closed, or stops for good when told to. */
function fakeConsumer(name: string, acked: number) {
  const done = Promise.withResolvers<{ reason: 'closed' | 'stopped'; message?: string }>();
  let closes = 0;
  const consumer: Consumer & { stop(message: string): void; closes(): number } = {
    name,
    run: () => done.promise,
    async close() {
      closes += 1;
      done.resolve({ reason: 'closed' });
    },
    stats: () => ({ ...emptyConsumerStats(), acked, handlerMsMax: acked }),
    stop: (message) => done.resolve({ reason: 'stopped', message }),
    closes: () => closes,
  };
  return consumer;
}

describe('a consumer per partition', () => {
  it('runs them as one: one that stops for good closes the others, and the run says why', async () => {
    const parts = [fakeConsumer('c', 1), fakeConsumer('c', 2), fakeConsumer('c', 3)];
    const all = consumeEach(parts);
    const running = all.run();
    parts[1]?.stop('bad token');
    expect(await running).toEqual({ reason: 'stopped', message: 'bad token' });
    expect(parts.map((part) => part.closes())).toEqual([1, 1, 1]);
  });

  it('closes them all, and adds their counters up (the longest handler call the longest of all)', async () => {
    const parts = [fakeConsumer('c', 1), fakeConsumer('c', 5)];
    const all = consumeEach(parts);
    const running = all.run();
    await all.close();
    expect(await running).toEqual({ reason: 'closed' });
    expect(all.stats().acked).toBe(6);
    expect(all.stats().handlerMsMax).toBe(5);
    expect(sumStats([]).acked).toBe(0);
  });

  it('is the consumer itself when there is one partition', () => {
    const only = fakeConsumer('c', 0);
    expect(consumeEach([only])).toBe(only);
  });
});
