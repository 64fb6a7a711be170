import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createRedis } from 'core';
import { type RedisServer, startRedisServer, uniqueName, waitFor, streamReadings } from 'core/testing';
import type Redis from 'ioredis';

const entry = join(import.meta.dir, 'index.ts');

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'cli-test', maxReconnectDelayMs: 100 });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function spawnProducer(args: string[], env: Record<string, string> = {}) {
  const output: string[] = [];
  const child = Bun.spawn(['bun', entry, ...args], {
    env: { ...process.env, REDIS_URL: server.url, STATUS_INTERVAL_MS: '500', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output.push(decoder.decode(chunk, { stream: true }));
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  return { child, text: async () => (await collected, output.join('')), partial: () => output.join('') };
}

/** The summary the producer logs as it stops. */
function stoppedSummary(output: string): { produced?: number; unsent?: number } {
  const line = output.split('\n').find((candidate) => candidate.includes('"event":"stopped"'));
  return line ? (JSON.parse(line) as { produced?: number; unsent?: number }) : {};
}

describe('producer process', () => {
  it('stops at start-up with a message naming a bad setting', async () => {
    const { child, text } = spawnProducer([], { DEVICES: 'lots', VALUE_MIN: 'x' });
    expect(await child.exited).toBe(2);
    const output = await text();
    expect(output).toContain('DEVICES: must be a whole number, got "lots"');
    expect(output).toContain('VALUE_MIN: must be a finite number');
    expect(output).not.toContain('    at ');
  });

  it('survives Redis being killed and restarted, publishing what it buffered meanwhile', async () => {
    const stream = uniqueName('readings');
    const { child, text, partial } = spawnProducer(['--rate', '200', '--devices', '4', '--stream', stream]);
    try {
      await waitFor(async () => (await streamReadings(redis, stream)).length > 50, { what: 'first readings' });
      await server.kill();
      const outageStart = Date.now();
      await waitFor(() => partial().includes('publish_failed_buffering'), { what: 'producer to notice the outage' });
      await Bun.sleep(1_000);
      expect(child.exitCode).toBeNull();
      const outageEnd = Date.now();
      await server.restart();
      await waitFor(() => partial().includes('redis_publishing_again'), { what: 'producer to resume' });
      const afterRestart = (await streamReadings(redis, stream)).length;
      await waitFor(async () => (await streamReadings(redis, stream)).length > afterRestart + 100, {
        what: 'publishing to continue',
      });
      // Readings measured while Redis was down were buffered and published after it came back.
      const measuredDuringOutage = (await streamReadings(redis, stream)).filter(
        (r) => r.ts > outageStart + 100 && r.ts < outageEnd - 100,
      );
      expect(measuredDuringOutage.length).toBeGreaterThan(100);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await child.exited).toBe(0);
    expect(await text()).toContain('"event":"stopped"');
  });

  it('flushes and exits 0 on SIGTERM, with every produced reading published', async () => {
    const stream = uniqueName('readings');
    const { child, text } = spawnProducer(['--rate', '1000', '--stream', stream]);
    await waitFor(async () => (await streamReadings(redis, stream)).length > 100, { what: 'readings' });
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const stopped = stoppedSummary(await text());
    expect(stopped.unsent).toBe(0);
    expect((await streamReadings(redis, stream)).length).toBe(stopped.produced as number);
  });

  it('stops on Ctrl-C after --count was reached while Redis is away (it flushed for ever before), saying what is unsent', async () => {
    const { child, text, partial } = spawnProducer(['--count', '10', '--rate', '100'], {
      REDIS_URL: 'redis://127.0.0.1:9',
      SHUTDOWN_TIMEOUT_MS: '500',
    });
    // Every reading produced (and buffered): the run now only waits for Redis.
    await waitFor(() => /"event":"status"[^\n]*"buffered":10/.test(partial()), {
      what: 'the count reached and buffered',
      timeoutMs: 15_000,
    });
    child.kill('SIGINT');
    expect(await child.exited).toBe(0);
    const stopped = stoppedSummary(await text());
    expect(stopped).toMatchObject({ produced: 10, unsent: 10 });
  });
});
