import { idOf, storedId } from '../id-bytes.ts';
import { type ByteReader, type ByteWriter, ChunkCorruptError } from './bytes.ts';

/**
 * A chunk's reading ids, exactly. A UUIDv7 (what the producer and the doors make) begins with the
 * millisecond it was made, close to its reading's time: that is kept as the difference from the
 * reading's `ts` (a byte or two), and its 74 random bits as they are — the version and variant
 * bits, the same in every UUIDv7, are not kept. Other UUIDs keep their 10 last bytes; any other
 * id its text.
 *
 * Forms, one per chunk: ALL_V7 (every id a UUIDv7, random bits packed), MIXED (a tag per id).
 */
const ALL_V7 = 1;
const MIXED = 2;
const TAG_UUID = 0;
const TAG_TEXT = 1;

export function encodeIds(ids: readonly string[], ts: Float64Array, out: ByteWriter): void {
  const bytes = ids.map(storedId);
  if (bytes.every((id) => typeof id !== 'string' && isV7(id))) {
    out.byte(ALL_V7);
    for (let i = 0; i < bytes.length; i++) out.signed(timeOf(bytes[i] as Uint8Array) - (ts[i] as number));
    for (const id of bytes as Uint8Array[]) {
      // rand_a: the low half of byte 6 and byte 7; rand_b: the low six bits of byte 8 and bytes 9–15.
      out.bits((((id[6] as number) & 0x0f) << 8) | (id[7] as number), 12);
      out.bits((id[8] as number) & 0x3f, 6);
      out.bits(((id[9] as number) << 16) | ((id[10] as number) << 8) | (id[11] as number), 24);
      out.bits(
        (((id[12] as number) << 24) | ((id[13] as number) << 16) | ((id[14] as number) << 8) | (id[15] as number)) >>>
          0,
        32,
      );
    }
    return;
  }
  out.byte(MIXED);
  const text = new TextEncoder();
  for (let i = 0; i < bytes.length; i++) {
    const id = bytes[i] as Uint8Array | string;
    if (typeof id === 'string') {
      const encoded = text.encode(id);
      out.byte(TAG_TEXT);
      out.varint(encoded.length);
      out.raw(encoded);
    } else {
      out.byte(TAG_UUID);
      out.signed(timeOf(id) - (ts[i] as number));
      out.raw(id.subarray(6));
    }
  }
}

export function decodeIds(input: ByteReader, ts: Float64Array): string[] {
  const count = ts.length;
  const form = input.byte();
  if (form === ALL_V7) {
    const times = Array.from({ length: count }, (_, i) => input.signed() + (ts[i] as number));
    return times.map((time) => {
      const id = withTime(time);
      const randA = input.bits(12);
      id[6] = 0x70 | (randA >>> 8);
      id[7] = randA & 0xff;
      id[8] = 0x80 | input.bits(6);
      const middle = input.bits(24);
      id[9] = middle >>> 16;
      id[10] = (middle >>> 8) & 0xff;
      id[11] = middle & 0xff;
      const last = input.bits(32);
      id[12] = last >>> 24;
      id[13] = (last >>> 16) & 0xff;
      id[14] = (last >>> 8) & 0xff;
      id[15] = last & 0xff;
      return idOf(id);
    });
  }
  if (form !== MIXED) throw new ChunkCorruptError(`ids: unknown form ${form}`);
  const text = new TextDecoder('utf-8', { fatal: true });
  return Array.from({ length: count }, (_, i) => {
    const tag = input.byte();
    if (tag === TAG_TEXT) {
      try {
        return text.decode(input.raw(input.varint()));
      } catch (error) {
        if (error instanceof ChunkCorruptError) throw error;
        throw new ChunkCorruptError('ids: an id that is not UTF-8');
      }
    }
    if (tag !== TAG_UUID) throw new ChunkCorruptError(`ids: unknown tag ${tag}`);
    const id = withTime(input.signed() + (ts[i] as number));
    id.set(input.raw(10), 6);
    return idOf(id);
  });
}

/** Version 7 and the RFC 9562 variant: what the packed form leaves out. */
function isV7(id: Uint8Array): boolean {
  return (id[6] as number) >>> 4 === 7 && (id[8] as number) >>> 6 === 0b10;
}

/** The first 48 bits: a UUIDv7's milliseconds. */
function timeOf(id: Uint8Array): number {
  let time = 0;
  for (let i = 0; i < 6; i++) time = time * 256 + (id[i] as number);
  return time;
}

// The id being decoded: made text at once (idOf), so one array serves them all.
const scratch = new Uint8Array(16);

/** The scratch id with its first 48 bits set to `time`. */
function withTime(time: number): Uint8Array {
  if (!Number.isSafeInteger(time) || time < 0 || time >= 2 ** 48)
    throw new ChunkCorruptError('ids: a time outside 48 bits');
  const id = scratch;
  let rest = time;
  for (let i = 5; i >= 0; i--) {
    id[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return id;
}
