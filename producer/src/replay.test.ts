import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readReadingFile } from 'core';
import { replayProgressLine } from './replay.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replay-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('replay progress', () => {
  it('counts the bytes read, up to the whole file', async () => {
    const file = join(dir, 'r.csv');
    const text = `deviceId,metric,value,unit,ts\n${Array.from({ length: 1_000 }, (_, i) => `d${i},kwh,${i},kWh,2026-11-22T10:00:00Z`).join('\n')}\n`;
    await writeFile(file, text);
    const progress = { bytes: 0 };
    let readings = 0;
    for await (const item of readReadingFile(file, { progress })) if ('reading' in item) readings += 1;
    expect(readings).toBe(1_000);
    expect(progress.bytes).toBe(Buffer.byteLength(text));
  });

  it('reads a gzip file as its content, counting its compressed bytes, and mints ids the caller chooses', async () => {
    const file = join(dir, 'r.ndjson.gz');
    const text = `${Array.from({ length: 100 }, (_, i) => JSON.stringify({ deviceId: `d${i}`, metric: 'kwh', value: i, unit: 'kWh', ts: 1_764_000_000_000 + i })).join('\n')}\nnot json\n`;
    const compressed = Bun.gzipSync(Buffer.from(text));
    await writeFile(file, compressed);
    const progress = { bytes: 0 };
    const items = [];
    for await (const item of readReadingFile(file, { progress, mintId: (tsMs, line) => `id-${line}-${tsMs}` }))
      items.push(item);
    expect(items).toHaveLength(101);
    expect(items[0]).toEqual({
      line: 1,
      reading: {
        id: 'id-1-1764000000000',
        deviceId: 'd0',
        metric: 'kwh',
        value: 0,
        unit: 'kWh',
        ts: 1_764_000_000_000,
      },
    });
    expect(items[100]).toEqual({ line: 101, error: 'not valid JSON' });
    expect(progress.bytes).toBe(compressed.byteLength);
  });

  it('says the share, the rate and the time left', () => {
    expect(replayProgressLine({ bytes: 250, totalBytes: 1_000, readings: 5_000, seconds: 2 })).toBe(
      'replay 25% · 5,000 readings · 2,500/s · ETA 6 s',
    );
    expect(replayProgressLine({ bytes: 0, totalBytes: 1_000, readings: 0, seconds: 0 })).toBe(
      'replay 0% · 0 readings · 0/s',
    );
  });
});
