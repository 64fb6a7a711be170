import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createRedis, decodeReading, encodeReading, newEventId, readDeadLetters, streamKeys } from 'core';
import { type TestRedis, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';

const entry = join(import.meta.dir, 'deadletters.ts');
let testRedis: TestRedis;
let redis: Redis;

beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'deadletters-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

async function run(...args: string[]) {
  const child = Bun.spawn(['bun', entry, ...args], {
    env: { ...process.env, REDIS_URL: testRedis.url },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, stdout, stderr };
}

/** A dead letter as the consumers write it. */
async function deadLetter(stream: string, reason: string) {
  const reading = { id: newEventId(), deviceId: 'd', metric: 'kwh', value: 1, unit: 'kWh', ts: Date.now() };
  const fields = encodeReading(reading);
  const id = await redis.xadd(
    streamKeys(redis, stream).dead,
    '*',
    'entryId',
    '1-1',
    'stream',
    stream,
    'group',
    'store',
    'consumer',
    'c',
    'reason',
    reason,
    'deliveries',
    '1',
    'deadAt',
    new Date().toISOString(),
    'fields',
    JSON.stringify(fields),
  );
  return { id: id as string, reading };
}

describe('bun run deadletters', () => {
  it('lists, shows, replays by reason and purges, per stream', async () => {
    const stream = uniqueName('readings');
    const conflict = await deadLetter(stream, 'conflict: id x is already stored with other content');
    const refused = await deadLetter(stream, 'rejected by the API: readings.0.ts: too far ahead');
    const list = await run('list', '--stream', stream);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(conflict.id);
    expect(list.stdout).toContain('2 dead letters');
    const show = await run('show', refused.id, '--stream', stream);
    expect(JSON.parse(show.stdout)).toMatchObject({
      id: refused.id,
      stream,
      reason: 'rejected by the API: readings.0.ts: too far ahead',
    });

    const replay = await run('replay', '--stream', stream, '--reason', 'too far ahead');
    expect(replay.stdout).toContain('replayed 1 dead letter');
    const back = await redis.xrange(stream, '-', '+');
    expect(back.map(([, fields]) => decodeReading(fields).id)).toEqual([refused.reading.id]);
    expect((await readDeadLetters(redis, streamKeys(redis, stream).dead)).map((letter) => letter.id)).toEqual([
      conflict.id,
    ]);

    expect((await run('purge', '--stream', stream, '--all')).stdout).toContain('purged 1 dead letter');
    expect(await redis.xlen(streamKeys(redis, stream).dead)).toBe(0);
  });

  it('says so when the Redis holds no pipeline, instead of answering 0 dead letters', async () => {
    const list = await run('list', '--stream', uniqueName('nowhere'));
    expect(list.code).toBe(1);
    expect(list.stdout).toBe('');
    expect(list.stderr).toContain(`no pipeline in the Redis at REDIS_URL=${testRedis.url}`);
    expect(list.stderr).toContain('saves the Redis it runs as REDIS_URL in .env');
  });

  it('answers --help, and refuses a purge without a selection or an unknown command, exit 2', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: bun run deadletters');
    const unselected = await run('purge');
    expect(unselected.code).toBe(2);
    expect(unselected.stderr).toContain('purge needs --id, --reason or --all');
    const unknown = await run('explode');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "explode"');
    expect(unknown.stderr).not.toContain('    at ');
  });
});
