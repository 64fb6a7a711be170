import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createRedis } from 'core';
import { type RedisServer, startRedisServer } from 'core/testing';
import { redisDurability } from './redis-durability.ts';

describe('what a restart of a Redis would lose', () => {
  let withAof: RedisServer;
  let withNothing: RedisServer;
  beforeAll(async () => {
    [withAof, withNothing] = await Promise.all([
      startRedisServer({ appendOnly: true }),
      startRedisServer({ appendOnly: false }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([withAof.stop(), withNothing.stop()]);
  });

  it('says AOF is kept, and says loudly what snapshots alone or no persistence at all would lose', async () => {
    const aof = createRedis(withAof.url, { name: 'durability-test' });
    const bare = createRedis(withNothing.url, { name: 'durability-test' });
    try {
      expect(await redisDurability(aof)).toEqual({ durability: 'aof', say: 'it keeps data on disk (AOF)' });
      const none = await redisDurability(bare);
      expect(none.durability).toBe('none');
      expect(none.say).toContain('IT KEEPS NOTHING ON DISK');
      await bare.config('SET', 'save', '900 1');
      const snapshots = await redisDurability(bare);
      expect(snapshots.durability).toBe('snapshots');
      expect(snapshots.say).toContain('it only snapshots (save "900 1")');
    } finally {
      aof.disconnect();
      bare.disconnect();
    }
  });
});
