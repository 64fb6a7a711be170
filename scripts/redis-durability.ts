import type Redis from 'ioredis';

export type Durability = 'aof' | 'snapshots' | 'none' | 'unknown';

/**
 * What a restart of this Redis would lose, from its own settings: `CONFIG GET appendonly` and
 * `save`, or, where CONFIG is refused (managed Redis often renames it), `INFO persistence`.
 */
export async function redisDurability(redis: Redis): Promise<{ durability: Durability; say: string }> {
  let appendOnly: string | undefined;
  let save: string | undefined;
  try {
    appendOnly = ((await redis.config('GET', 'appendonly')) as string[])[1];
    save = ((await redis.config('GET', 'save')) as string[])[1];
  } catch {
    const info = await redis.info('persistence').catch(() => '');
    const aof = /^aof_enabled:(\d)/m.exec(info)?.[1];
    if (aof === '1') appendOnly = 'yes';
    else if (aof === undefined)
      return {
        durability: 'unknown',
        say: 'cannot tell whether it keeps data on disk (CONFIG and INFO refused); make sure it persists (AOF)',
      };
  }
  if (appendOnly === 'yes') return { durability: 'aof', say: 'it keeps data on disk (AOF)' };
  if (save)
    return {
      durability: 'snapshots',
      say: `it only snapshots (save "${save}"): a restart loses what came in since the last snapshot — readings not yet stored, alert state, dead letters. Turn on AOF: CONFIG SET appendonly yes`,
    };
  return {
    durability: 'none',
    say: 'IT KEEPS NOTHING ON DISK (appendonly no, no snapshots): a restart of it loses every reading not yet stored, the alert state and the dead letters. Turn on AOF (CONFIG SET appendonly yes), or leave REDIS_URL unset and `bun run start` runs a Redis of its own with AOF',
  };
}
