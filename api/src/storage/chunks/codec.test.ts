import { describe, expect, it } from 'bun:test';
import { eventIdFor, newEventId } from 'core';
import { seededRandom } from 'core/testing';
import {
  ChunkCorruptError,
  type ChunkReading,
  MAX_CHUNK_READINGS,
  chunkParts,
  decodeChunk,
  encodeChunk,
} from './codec.ts';

/** A device reporting about every minute: a slow wave in hundredths, ids made at `ts`, stored ~40 ms later. */
function deviceDay(random: () => number, count = 1_440): ChunkReading[] {
  let ts = Date.UTC(2026, 0, 1) + Math.floor(random() * 60_000);
  return Array.from({ length: count }, (_, i) => {
    ts += 54_000 + Math.floor(random() * 12_000);
    const value = Math.round((20 + 5 * Math.sin(i / 60) + random()) * 100) / 100;
    return { id: newEventId(ts), value, unit: '°C', ts, storedAt: ts + 20 + Math.floor(random() * 40) };
  });
}

/** Bits, not ==: -0, NaN payloads and every double must come back as they went in. */
const bitsOf = (value: number) => new BigUint64Array(new Float64Array([value]).buffer)[0];
const same = (decoded: ChunkReading[], readings: ChunkReading[]) => {
  expect(decoded.map(({ value, ...rest }) => rest)).toEqual(readings.map(({ value, ...rest }) => rest));
  expect(decoded.map((reading) => bitsOf(reading.value))).toEqual(readings.map((reading) => bitsOf(reading.value)));
};

describe('chunk codec', () => {
  it('gives a device’s day back exactly, in a few bytes a reading', () => {
    const readings = deviceDay(seededRandom(1));
    const chunk = encodeChunk(readings);
    same(decodeChunk(chunk), readings);
    // Deterministic (seeded): 74 random id bits are 9.25 bytes of it.
    expect(chunk.length / readings.length).toBeLessThan(16);
    const parts = chunkParts(chunk);
    expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBe(chunk.length);
  });

  it('gives back any doubles, ids, units, times and leads exactly', () => {
    const special = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, -1e-310, Number.MAX_VALUE, 5e-324, 0.1 + 0.2];
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const count = 1 + Math.floor(random() * 300);
      const readings = Array.from({ length: count }, (_, i): ChunkReading => {
        const ts = Math.floor(random() * 2 ** 45) - 2 ** 40;
        const pick = random();
        const value =
          pick < 0.2
            ? (special[Math.floor(random() * special.length)] as number)
            : pick < 0.5
              ? new Float64Array(new BigUint64Array([BigInt(Math.floor(random() * 2 ** 53)) << 11n]).buffer)[0]
              : pick < 0.8
                ? Math.round(random() * 1e6) / 10 ** Math.floor(random() * 8)
                : i;
        const kind = random();
        const id =
          kind < 0.4
            ? newEventId(Math.max(0, ts + Math.floor(random() * 1_000)))
            : kind < 0.5
              ? crypto.randomUUID()
              : kind < 0.6
                ? eventIdFor(Math.max(0, ts), String(i)).toUpperCase()
                : kind < 0.8
                  ? `reading-${i}-ü-${Math.floor(random() * 1e9)}`
                  : eventIdFor(Math.max(0, ts), `k${i}`);
        return {
          id,
          value: value as number,
          unit: random() < 0.9 ? 'kWh' : random() < 0.5 ? '' : '°C',
          ts,
          storedAt: ts + Math.floor(random() * 2 ** 40) - 2 ** 39,
        };
      });
      same(decodeChunk(encodeChunk(readings)), readings);
    }
  });

  it('keeps random doubles as their 8 bytes, and whole numbers in about one', () => {
    const random = seededRandom(6);
    const day = deviceDay(random, 500);
    // Two draws for all 52 bits of the mantissa.
    const doubles = day.map((reading) => ({ ...reading, value: (random() + random() * 2 ** -32) * 100 }));
    const wholes = day.map((reading, i) => ({ ...reading, value: (i * 7) % 91 }));
    for (const readings of [doubles, wholes]) same(decodeChunk(encodeChunk(readings)), readings);
    expect(chunkParts(encodeChunk(doubles)).values).toBe(1 + 8 * 500);
    expect(chunkParts(encodeChunk(wholes)).values).toBeLessThan(2 * 500);
  });

  it('refuses a chunk changed anywhere, or cut short', () => {
    const chunk = encodeChunk(deviceDay(seededRandom(2), 200));
    for (let at = 0; at < chunk.length; at++) {
      const damaged = chunk.slice();
      damaged[at] = (damaged[at] as number) ^ (1 + (at % 255));
      expect(() => decodeChunk(damaged)).toThrow(ChunkCorruptError);
    }
    for (const length of [0, 3, 4, chunk.length - 1])
      expect(() => decodeChunk(chunk.subarray(0, length))).toThrow(ChunkCorruptError);
  });

  it('decodes altered bytes under a matching checksum to readings or a ChunkCorruptError, nothing else', () => {
    const chunk = encodeChunk(deviceDay(seededRandom(3), 50));
    const random = seededRandom(4);
    for (let trial = 0; trial < 5_000; trial++) {
      const body = chunk.slice(0, chunk.length - 4);
      for (let changes = 1 + Math.floor(random() * 3); changes > 0; changes--)
        body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
      const altered = new Uint8Array(body.length + 4);
      altered.set(body);
      new DataView(altered.buffer).setUint32(body.length, Bun.hash.crc32(body), true);
      try {
        const decoded = decodeChunk(altered);
        expect(decoded.length).toBeLessThanOrEqual(MAX_CHUNK_READINGS);
      } catch (error) {
        if (!(error instanceof ChunkCorruptError)) throw new Error(`trial ${trial}: ${error}`);
      }
    }
  });

  it('refuses what it cannot keep exactly', () => {
    expect(() => encodeChunk([])).toThrow('a chunk holds 1 to');
    const reading = deviceDay(seededRandom(5), 1)[0] as ChunkReading;
    expect(() => encodeChunk([{ ...reading, ts: 1.5 }])).toThrow('ts 1.5');
    expect(() => encodeChunk([{ ...reading, storedAt: Number.NaN }])).toThrow('storedAt NaN');
    expect(() => encodeChunk([{ ...reading, ts: 2 ** 51 }])).toThrow('within ±2^50');
  });
});
