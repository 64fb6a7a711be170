/**
 * The byte and bit writers and readers the chunk codec is made of. Integers are JavaScript
 * numbers up to 2^53 (epoch milliseconds, differences of them): varints by arithmetic, not by
 * 32-bit shifts. A reader past its end throws ChunkCorruptError: a chunk cut short or altered
 * must never be read as other readings.
 */

/** A compressed chunk that does not decode: its checksum, its framing or one of its sections. */
export class ChunkCorruptError extends Error {
  override readonly name = 'ChunkCorruptError';
}

/** A growing byte buffer: bytes, varints and bit fields, most significant bit first. */
export class ByteWriter {
  private bytes = new Uint8Array(256);
  private size = 0;
  // Bits of the last byte already used by writeBits (0: none, start a new byte).
  private bitsUsed = 0;

  get length(): number {
    return this.size;
  }

  private room(extra: number): void {
    if (this.size + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.size + extra));
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }

  byte(value: number): void {
    this.bitsUsed = 0;
    this.room(1);
    this.bytes[this.size++] = value;
  }

  raw(bytes: Uint8Array): void {
    this.bitsUsed = 0;
    this.room(bytes.length);
    this.bytes.set(bytes, this.size);
    this.size += bytes.length;
  }

  /** An unsigned integer (≤ 2^53), seven bits a byte, low bits first. */
  varint(value: number): void {
    this.bitsUsed = 0;
    this.room(8);
    let rest = value;
    while (rest >= 128) {
      this.bytes[this.size++] = (rest % 128) | 128;
      rest = Math.floor(rest / 128);
    }
    this.bytes[this.size++] = rest;
  }

  /** A signed integer, zigzagged: small magnitudes of either sign take one byte. */
  signed(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** The low `count` bits (≤ 32) of `value`, most significant first, packed after the last bits written. */
  bits(value: number, count: number): void {
    let left = count;
    while (left > 0) {
      if (this.bitsUsed === 0) {
        this.room(1);
        this.bytes[this.size++] = 0;
      }
      const free = 8 - this.bitsUsed;
      const take = Math.min(free, left);
      const part = (value >>> (left - take)) & ((1 << take) - 1);
      this.bytes[this.size - 1] = (this.bytes[this.size - 1] as number) | (part << (free - take));
      this.bitsUsed = (this.bitsUsed + take) & 7;
      left -= take;
    }
  }

  /** What was written, as one array (a copy the writer no longer touches). */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.size);
  }
}

/** Reads what a ByteWriter wrote, in the same order; throws ChunkCorruptError past the end. */
export class ByteReader {
  private at = 0;
  private bitsUsed = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.at === this.bytes.length;
  }

  private next(): number {
    const value = this.bytes[this.at++];
    if (value === undefined) throw new ChunkCorruptError(`${this.what}: ends early`);
    return value;
  }

  byte(): number {
    this.bitsUsed = 0;
    return this.next();
  }

  raw(length: number): Uint8Array {
    this.bitsUsed = 0;
    if (this.at + length > this.bytes.length) throw new ChunkCorruptError(`${this.what}: ends early`);
    this.at += length;
    return this.bytes.subarray(this.at - length, this.at);
  }

  varint(): number {
    this.bitsUsed = 0;
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.next();
      value += (byte & 127) * scale;
      if (byte < 128) return value;
      scale *= 128;
      if (scale > 2 ** 56) throw new ChunkCorruptError(`${this.what}: a number longer than 8 bytes`);
    }
  }

  signed(): number {
    const zigzag = this.varint();
    return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
  }

  /** `count` bits (≤ 32) as an unsigned number. */
  bits(count: number): number {
    let value = 0;
    let left = count;
    while (left > 0) {
      if (this.bitsUsed === 0) this.next();
      const current = this.bytes[this.at - 1] as number;
      const free = 8 - this.bitsUsed;
      const take = Math.min(free, left);
      const part = (current >>> (free - take)) & ((1 << take) - 1);
      value = value * 2 ** take + part;
      this.bitsUsed = (this.bitsUsed + take) & 7;
      left -= take;
    }
    return value;
  }
}
