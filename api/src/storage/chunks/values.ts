import { ByteReader, ByteWriter, ChunkCorruptError } from './bytes.ts';

/**
 * A chunk's values, exactly (every bit of every double, -0 and NaN included), in one of three
 * forms:
 *
 * - DECIMAL: values that are whole multiples of 10^-d (d ≤ 6) — what sensors report: 21.37 °C,
 *   1,013 hPa — kept as the differences of the whole numbers v × 10^d, a byte or two each. Chosen
 *   whenever `Math.round(v × 10^d) / 10^d` gives back v itself for every value, which is what
 *   decoding computes. Measured on a day of a sensor in hundredths: 1.16 bytes a value, where
 *   XOR takes 6.79 (a decimal fraction's mantissa differs in most of its bits); on whole numbers
 *   1.08 against 1.95.
 * - XOR (Gorilla, Facebook 2015): each double XORed with the one before; equal values cost a bit,
 *   close ones the bits that differ. For values with more decimals, or none exact.
 * - RAW: the 8 bytes of each, when XOR would take more (random doubles: 8.04–8.11 a value).
 *
 * Doubles are read and written in this machine's byte order: little-endian on every platform
 * Bun runs on.
 */
const DECIMAL = 1;
const XOR = 2;
const RAW = 3;
const MAX_DECIMALS = 6;

export function encodeValues(values: Float64Array, out: ByteWriter): void {
  const decimals = decimalsOf(values);
  if (decimals === undefined) {
    const xor = new ByteWriter();
    encodeXor(values, xor);
    const xored = xor.finish();
    if (xored.length < values.length * 8) {
      out.byte(XOR);
      out.raw(xored);
    } else {
      out.byte(RAW);
      out.raw(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
    return;
  }
  out.byte(DECIMAL);
  out.byte(decimals);
  const scale = 10 ** decimals;
  let previous = 0;
  for (const value of values) {
    const whole = Math.round(value * scale);
    out.signed(whole - previous);
    previous = whole;
  }
}

export function decodeValues(input: ByteReader, count: number): Float64Array {
  const values = new Float64Array(count);
  const form = input.byte();
  if (form === XOR) {
    decodeXor(input, values);
    return values;
  }
  if (form === RAW) {
    new Uint8Array(values.buffer).set(input.raw(count * 8));
    return values;
  }
  if (form !== DECIMAL) throw new ChunkCorruptError(`values: unknown form ${form}`);
  const decimals = input.byte();
  if (decimals > MAX_DECIMALS) throw new ChunkCorruptError(`values: ${decimals} decimals`);
  const scale = 10 ** decimals;
  let whole = 0;
  for (let i = 0; i < count; i++) {
    whole += input.signed();
    values[i] = whole / scale;
  }
  return values;
}

/** The fewest decimals that give every value back exactly, or undefined (then XOR). */
function decimalsOf(values: Float64Array): number | undefined {
  let decimals = 0;
  for (const value of values) {
    // -0 would come back as 0; NaN and infinities have no digits (the contract refuses them anyway).
    if (Object.is(value, -0) || !Number.isFinite(value)) return undefined;
    while (!exactWith(value, decimals)) {
      decimals += 1;
      if (decimals > MAX_DECIMALS) return undefined;
    }
  }
  return decimals;
}

function exactWith(value: number, decimals: number): boolean {
  const scale = 10 ** decimals;
  const whole = Math.round(value * scale);
  // Past 2^53 the whole numbers' differences would no longer be exact.
  return Math.abs(whole) <= Number.MAX_SAFE_INTEGER && whole / scale === value;
}

// A double's 64 bits as two 32-bit halves (this machine's byte order: little-endian).
const asFloat = new Float64Array(1);
const asWords = new Uint32Array(asFloat.buffer);

function encodeXor(values: Float64Array, out: ByteWriter): void {
  let previousHigh = 0;
  let previousLow = 0;
  // The window of meaningful bits last written: the next XOR that fits in it reuses it.
  let leading = -1;
  let trailing = 0;
  for (let i = 0; i < values.length; i++) {
    asFloat[0] = values[i] as number;
    const high = asWords[1] as number;
    const low = asWords[0] as number;
    if (i === 0) {
      out.bits(high, 32);
      out.bits(low, 32);
    } else {
      const xorHigh = (high ^ previousHigh) >>> 0;
      const xorLow = (low ^ previousLow) >>> 0;
      if (xorHigh === 0 && xorLow === 0) out.bits(0, 1);
      else {
        const lead = Math.min(31, xorHigh !== 0 ? Math.clz32(xorHigh) : 32 + Math.clz32(xorLow));
        const trail = xorLow !== 0 ? trailingZeros(xorLow) : 32 + trailingZeros(xorHigh);
        if (leading >= 0 && lead >= leading && trail >= trailing) {
          out.bits(0b10, 2);
        } else {
          leading = lead;
          trailing = trail;
          out.bits(0b11, 2);
          out.bits(leading, 5);
          // 1 to 64 meaningful bits, 64 written as 0.
          out.bits((64 - leading - trailing) & 63, 6);
        }
        writeMeaningful(out, xorHigh, xorLow, 64 - leading - trailing, trailing);
      }
    }
    previousHigh = high;
    previousLow = low;
  }
}

function decodeXor(input: ByteReader, values: Float64Array): void {
  let high = 0;
  let low = 0;
  let leading = -1;
  let trailing = 0;
  for (let i = 0; i < values.length; i++) {
    if (i === 0) {
      high = input.bits(32);
      low = input.bits(32);
    } else if (input.bits(1) === 1) {
      if (input.bits(1) === 1) {
        leading = input.bits(5);
        trailing = 64 - leading - (input.bits(6) || 64);
        if (trailing < 0) throw new ChunkCorruptError('values: a window wider than 64 bits');
      } else if (leading < 0) throw new ChunkCorruptError('values: a window reused before any was set');
      const [xorHigh, xorLow] = readMeaningful(input, 64 - leading - trailing, trailing);
      high = (high ^ xorHigh) >>> 0;
      low = (low ^ xorLow) >>> 0;
    }
    asWords[1] = high;
    asWords[0] = low;
    values[i] = asFloat[0] as number;
  }
}

function trailingZeros(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Bits trailing … trailing + count - 1 of the 64-bit (high, low), most significant first. */
function writeMeaningful(out: ByteWriter, high: number, low: number, count: number, trailing: number): void {
  // Shifted right by `trailing`, as two halves.
  let shiftedHigh: number;
  let shiftedLow: number;
  if (trailing === 0) {
    shiftedHigh = high;
    shiftedLow = low;
  } else if (trailing < 32) {
    shiftedHigh = high >>> trailing;
    shiftedLow = ((low >>> trailing) | (high << (32 - trailing))) >>> 0;
  } else {
    shiftedHigh = 0;
    shiftedLow = high >>> (trailing - 32);
  }
  if (count > 32) out.bits(shiftedHigh, count - 32);
  out.bits(shiftedLow, Math.min(count, 32));
}

function readMeaningful(input: ByteReader, count: number, trailing: number): [number, number] {
  const shiftedHigh = count > 32 ? input.bits(count - 32) : 0;
  const shiftedLow = input.bits(Math.min(count, 32));
  if (trailing === 0) return [shiftedHigh, shiftedLow];
  if (trailing < 32)
    return [((shiftedHigh << trailing) | (shiftedLow >>> (32 - trailing))) >>> 0, (shiftedLow << trailing) >>> 0];
  return [(shiftedLow << (trailing - 32)) >>> 0, 0];
}
