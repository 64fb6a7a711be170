import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createRedis, type Reading } from 'core';
import { type TestRedis, uniqueName, useRedis, streamEntries } from 'core/testing';
import type Redis from 'ioredis';
import { loadProducerConfig } from './config.ts';
import { startProducer } from './run.ts';

let testRedis: TestRedis;
let redis: Redis;
let dir: string;

beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'producer-test' });
  dir = await mkdtemp(join(tmpdir(), 'producer-test-'));
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the producer in-process with flags, as the CLI would, and returns its summary and log lines. */
async function runProducer(flags: string[]) {
  const stream = uniqueName('readings');
  const config = loadProducerConfig([...flags, '--stream', stream, '--redis-url', testRedis.url], {
    STATUS_INTERVAL_MS: '60000',
  });
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'producer', pretty: false, write: (line) => lines.push(JSON.parse(line)) });
  const connection = createRedis(testRedis.url, { name: 'producer', failFast: true });
  try {
    const summary = await startProducer({ config, redis: connection, logger }).done;
    return { stream, summary, lines };
  } finally {
    connection.disconnect();
  }
}

async function streamReadings(stream: string): Promise<Array<{ entryId: string; reading: Reading }>> {
  return streamEntries(redis, stream);
}

describe('producer against a real Redis', () => {
  it('publishes exactly --count readings, each valid, in range, from every device', async () => {
    const { stream, summary } = await runProducer([
      '--count',
      '500',
      '--devices',
      '10',
      '--rate',
      '5000',
      '--min',
      '20',
      '--max',
      '30',
    ]);
    const readings = (await streamReadings(stream)).map((entry) => entry.reading);
    expect(summary).toMatchObject({ produced: 500, sent: 500, unsent: 0, dropped: 0 });
    expect(readings).toHaveLength(500);
    expect(new Set(readings.map((r) => r.id)).size).toBe(500);
    expect(new Set(readings.map((r) => r.deviceId)).size).toBe(10);
    expect(readings.every((r) => r.value >= 20 && r.value <= 30 && Number.isInteger(r.value))).toBe(true);
  });

  // Only the upper bound: a busy machine can slow the producer down, never speed it up.
  it('never publishes faster than --rate', async () => {
    const rate = 400;
    const { stream } = await runProducer(['--count', String(rate * 3), '--rate', String(rate), '--devices', '20']);
    const entries = await streamReadings(stream);
    // Entry ids start with the Redis server's millisecond clock at XADD.
    const firstMs = Number(entries[0]?.entryId.split('-')[0]);
    const lastMs = Number(entries.at(-1)?.entryId.split('-')[0]);
    const measured = ((entries.length - 1) * 1_000) / (lastMs - firstMs);
    expect(entries).toHaveLength(rate * 3);
    expect(measured).toBeLessThan(rate * 1.1);
  });

  it('replays a CSV file: good lines published, bad lines reported by line number', async () => {
    const file = join(dir, 'replay.csv');
    await writeFile(
      file,
      [
        'deviceId,metric,value,unit,ts',
        'pump-1,temp,21.5,°C,2026-11-22T10:00:00.000Z',
        'pump-2,temp,abc,°C,2026-11-22T10:00:01.000Z',
        'pump-1,temp,22,°C,1795384891000',
        'bad device,temp,1,°C,1795384891000',
        '"pump-3",temp,"23.5","°C",1795384892000',
        'pump-4,temp,1,°C',
        '"unclosed,temp,1,°C,1795384892000',
        '',
        'pump-5,temp,-4,°C,1795384893000',
      ].join('\n'),
    );
    const { stream, summary, lines } = await runProducer(['--replay', file]);
    const readings = (await streamReadings(stream)).map((entry) => entry.reading);
    expect(readings.map((r) => [r.deviceId, r.value])).toEqual([
      ['pump-1', 21.5],
      ['pump-1', 22],
      ['pump-3', 23.5],
      ['pump-5', -4],
    ]);
    expect(readings[0]?.ts).toBe(Date.parse('2026-11-22T10:00:00.000Z'));
    expect(summary.badLines).toBe(4);
    const bad = lines.filter((line) => line.event === 'replay_bad_line').map((line) => [line.line, line.error]);
    expect(bad).toEqual([
      [3, expect.stringContaining('value: must be a finite number') as unknown as string],
      [5, expect.stringContaining('deviceId') as unknown as string],
      [7, 'expected 5 columns, found 4'],
      [8, 'malformed CSV (unbalanced quotes?)'],
    ]);
  });

  it('replays NDJSON with ids kept, so a replay of the same file is idempotent downstream', async () => {
    const file = join(dir, 'replay.ndjson');
    const good = { id: 'r-1', deviceId: 'd1', metric: 'kwh', value: 60, unit: 'kWh', ts: 1795384891000 };
    await writeFile(file, `${JSON.stringify(good)}\nnot json\n[1,2]\n{"deviceId":"d2"}\n`);
    const { stream, summary, lines } = await runProducer(['--replay', file]);
    expect((await streamReadings(stream)).map((entry) => entry.reading)).toEqual([good]);
    expect(summary.badLines).toBe(3);
    expect(lines.filter((l) => l.event === 'replay_bad_line').map((l) => l.line)).toEqual([2, 3, 4]);
  });

  it('replays a CSV saved with a byte-order mark (as spreadsheets save UTF-8) like any other', async () => {
    const file = join(dir, 'bom.csv');
    await writeFile(file, '\uFEFFid,deviceId,metric,value,unit,ts\nb-1,d1,temp,21.5,°C,2026-11-22T10:00:00Z\n');
    const { stream, summary } = await runProducer(['--replay', file]);
    expect((await streamReadings(stream)).map((entry) => entry.reading)).toEqual([
      { id: 'b-1', deviceId: 'd1', metric: 'temp', value: 21.5, unit: '°C', ts: Date.parse('2026-11-22T10:00:00Z') },
    ]);
    expect(summary.badLines).toBe(0);
  });

  it('appends every published reading to --csv, and that file replays to the same readings', async () => {
    const csv = join(dir, 'session.csv');
    const { stream } = await runProducer(['--count', '40', '--rate', '2000', '--csv', csv]);
    const published = (await streamReadings(stream)).map((entry) => entry.reading);
    const text = await readFile(csv, 'utf8');
    expect(text.split('\n')[0]).toBe('id,deviceId,metric,value,unit,ts');
    expect(text.trim().split('\n')).toHaveLength(41);
    const { stream: replayed } = await runProducer(['--replay', csv]);
    expect((await streamReadings(replayed)).map((entry) => entry.reading)).toEqual(published);
  });
});
