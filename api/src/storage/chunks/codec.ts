import { ByteReader, ByteWriter, ChunkCorruptError } from './bytes.ts';
import { decodeIds, encodeIds } from './ids.ts';
import { decodeValues, encodeValues } from './values.ts';

export { ChunkCorruptError } from './bytes.ts';

/** A reading in a chunk: its device and metric are the chunk's. */
export interface ChunkReading {
  id: string;
  value: number;
  unit: string;
  /** When the device measured it, epoch milliseconds. */
  ts: number;
  /** When it was first committed, epoch milliseconds. */
  storedAt: number;
}

/**
 * One device's and one metric's readings as a column-wise compressed chunk, every field given
 * back exactly, in the order given. Each column is a section of its own, so that each is coded
 * as suits it and can be measured:
 *
 * - `ts`: the first, then differences of differences (zigzag varints): a device reporting
 *   every minute, give or take its jitter, costs a byte or two.
 * - `values`: values.ts (decimal or Gorilla XOR, whichever keeps them exactly).
 * - `ids`: ids.ts (a UUIDv7's time as its difference from `ts`, its random bits packed).
 * - `units`: the chunk's own list of units and runs of them (a device's unit rarely changes).
 * - `leads`: `storedAt − ts`, each as its difference from the one before.
 *
 * Framing: a version byte, the count, each section's length, the sections, and a CRC-32 of all
 * that: a chunk altered on disk is refused (ChunkCorruptError), never read as other readings.
 */
const VERSION = 1;
export const SECTIONS = ['ts', 'values', 'ids', 'units', 'leads'] as const;
export type Section = (typeof SECTIONS)[number];
/** More readings than one chunk may hold: a count past it is damage, not data. */
export const MAX_CHUNK_READINGS = 1 << 22;

export function encodeChunk(readings: readonly ChunkReading[]): Uint8Array {
  if (readings.length === 0 || readings.length > MAX_CHUNK_READINGS)
    throw new RangeError(`a chunk holds 1 to ${MAX_CHUNK_READINGS} readings, not ${readings.length}`);
  const ts = Float64Array.from(readings, (reading) => reading.ts);
  const sections: Record<Section, Uint8Array> = {
    ts: section((out) => encodeTimes(ts, out)),
    values: section((out) =>
      encodeValues(
        Float64Array.from(readings, (reading) => reading.value),
        out,
      ),
    ),
    ids: section((out) =>
      encodeIds(
        readings.map((reading) => reading.id),
        ts,
        out,
      ),
    ),
    units: section((out) => encodeUnits(readings, out)),
    leads: section((out) => encodeLeads(readings, out)),
  };
  const out = new ByteWriter();
  out.byte(VERSION);
  out.varint(readings.length);
  for (const name of SECTIONS) out.varint(sections[name].length);
  for (const name of SECTIONS) out.raw(sections[name]);
  const body = out.finish();
  const chunk = new Uint8Array(body.length + 4);
  chunk.set(body);
  new DataView(chunk.buffer).setUint32(body.length, Bun.hash.crc32(body), true);
  return chunk;
}

/** @throws ChunkCorruptError naming what does not decode. */
export function decodeChunk(chunk: Uint8Array): ChunkReading[] {
  const { count, sections } = frame(chunk);
  const ts = whole(sections, 'ts', (input) => decodeTimes(input, count));
  const values = whole(sections, 'values', (input) => decodeValues(input, count));
  const ids = whole(sections, 'ids', (input) => decodeIds(input, ts));
  const units = whole(sections, 'units', (input) => decodeUnits(input, count));
  const storedAt = whole(sections, 'leads', (input) => decodeLeads(input, ts));
  return Array.from({ length: count }, (_, i) => ({
    id: ids[i] as string,
    value: values[i] as number,
    unit: units[i] as string,
    ts: ts[i] as number,
    storedAt: storedAt[i] as number,
  }));
}

/** The bytes of each part of a chunk (its sections, and `framing`: version, lengths, checksum). */
export function chunkParts(chunk: Uint8Array): Record<Section | 'framing', number> {
  const { sections } = frame(chunk);
  const parts = { framing: chunk.length } as Record<Section | 'framing', number>;
  for (const name of SECTIONS) {
    parts[name] = sections[name].length;
    parts.framing -= sections[name].length;
  }
  return parts;
}

function frame(chunk: Uint8Array): { count: number; sections: Record<Section, Uint8Array> } {
  if (chunk.length < 5) throw new ChunkCorruptError(`chunk: ${chunk.length} bytes, too short to be one`);
  const body = chunk.subarray(0, chunk.length - 4);
  const stored = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(body.length, true);
  if (Bun.hash.crc32(body) !== stored) throw new ChunkCorruptError('chunk: checksum does not match (damaged)');
  const input = new ByteReader(body, 'chunk');
  const version = input.byte();
  if (version !== VERSION) throw new ChunkCorruptError(`chunk: version ${version}, this build reads ${VERSION}`);
  const count = input.varint();
  if (count < 1 || count > MAX_CHUNK_READINGS) throw new ChunkCorruptError(`chunk: ${count} readings`);
  const lengths = SECTIONS.map(() => input.varint());
  const sections = {} as Record<Section, Uint8Array>;
  SECTIONS.forEach((name, i) => {
    sections[name] = input.raw(lengths[i] as number);
  });
  if (!input.done) throw new ChunkCorruptError('chunk: bytes past its last section');
  // Every reading takes at least a byte of `ts`: a count past that is damage, found before any
  // array of that size is made.
  if (count > sections.ts.length)
    throw new ChunkCorruptError(`chunk: ${count} readings in ${sections.ts.length} bytes of ts`);
  return { count, sections };
}

function section(write: (out: ByteWriter) => void): Uint8Array {
  const out = new ByteWriter();
  write(out);
  return out.finish();
}

/**
 * Times the chunk can difference exactly: whole milliseconds within ±2^50 (±35,000 years), so
 * that differences of differences stay below 2^53.
 */
function withinTimes(ms: number): boolean {
  return Number.isSafeInteger(ms) && Math.abs(ms) <= 2 ** 50;
}

/** Decodes a section, which must be read to its end and no further. */
function whole<T>(sections: Record<Section, Uint8Array>, name: Section, decode: (input: ByteReader) => T): T {
  const input = new ByteReader(sections[name], name);
  const decoded = decode(input);
  if (!input.done) throw new ChunkCorruptError(`${name}: bytes past its last reading`);
  return decoded;
}

function encodeTimes(ts: Float64Array, out: ByteWriter): void {
  let previous = 0;
  let previousDelta = 0;
  for (let i = 0; i < ts.length; i++) {
    const time = ts[i] as number;
    if (!withinTimes(time)) throw new RangeError(`ts ${time} is not a whole number of milliseconds within ±2^50`);
    const delta = time - previous;
    out.signed(i === 0 ? time : delta - previousDelta);
    previousDelta = i === 0 ? 0 : delta;
    previous = time;
  }
}

function decodeTimes(input: ByteReader, count: number): Float64Array {
  const ts = new Float64Array(count);
  let previous = 0;
  let delta = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) previous = input.signed();
    else {
      delta += input.signed();
      previous += delta;
    }
    ts[i] = previous;
  }
  return ts;
}

function encodeUnits(readings: readonly ChunkReading[], out: ByteWriter): void {
  const names: string[] = [];
  const runs: Array<[number, number]> = [];
  for (const { unit } of readings) {
    let key = names.indexOf(unit);
    if (key < 0) key = names.push(unit) - 1;
    const last = runs.at(-1);
    if (last && last[0] === key) last[1] += 1;
    else runs.push([key, 1]);
  }
  const text = new TextEncoder();
  out.varint(names.length);
  for (const name of names) {
    const encoded = text.encode(name);
    out.varint(encoded.length);
    out.raw(encoded);
  }
  out.varint(runs.length);
  for (const [key, length] of runs) {
    out.varint(key);
    out.varint(length);
  }
}

function decodeUnits(input: ByteReader, count: number): string[] {
  const text = new TextDecoder('utf-8', { fatal: true });
  const distinct = input.varint();
  if (distinct > count) throw new ChunkCorruptError(`units: ${distinct} units for ${count} readings`);
  const names = Array.from({ length: distinct }, () => {
    const bytes = input.raw(input.varint());
    try {
      return text.decode(bytes);
    } catch {
      throw new ChunkCorruptError('units: a unit that is not UTF-8');
    }
  });
  const units: string[] = [];
  for (let runs = input.varint(); runs > 0; runs--) {
    const name = names[input.varint()];
    const length = input.varint();
    if (name === undefined || units.length + length > count) throw new ChunkCorruptError('units: a run out of range');
    for (let i = 0; i < length; i++) units.push(name);
  }
  if (units.length !== count) throw new ChunkCorruptError(`units: ${units.length} of ${count}`);
  return units;
}

function encodeLeads(readings: readonly ChunkReading[], out: ByteWriter): void {
  let previous = 0;
  for (const { ts, storedAt } of readings) {
    if (!withinTimes(storedAt)) throw new RangeError(`storedAt ${storedAt} is not a whole number within ±2^50`);
    const lead = storedAt - ts;
    out.signed(lead - previous);
    previous = lead;
  }
}

function decodeLeads(input: ByteReader, ts: Float64Array): Float64Array {
  const storedAt = new Float64Array(ts.length);
  let lead = 0;
  for (let i = 0; i < ts.length; i++) {
    lead += input.signed();
    storedAt[i] = (ts[i] as number) + lead;
  }
  return storedAt;
}
