/**
 * Which ids a compressed chunk may hold, in two bytes an id: a Bloom filter. "No" is certain,
 * "maybe" is wrong about once in 1,200 — so a lookup by id decodes the few chunks that answer
 * "maybe" instead of every chunk of a day, and an id refused as a duplicate or a conflict is
 * always refused by its chunk's own readings, never by the filter.
 *
 * A late reading's id is tried against every chunk of its day (a thousand for a thousand devices),
 * so each "maybe" that is wrong costs a chunk decoded: 16 bits and 11 hashes an id measured 0.08%
 * wrong (10 bits and 7 hashes, the first form, ~1%, about ten chunks decoded for nothing a reading).
 *
 * Form: a byte saying how many hashes (K) and, in its high bit, how they are placed; then the bits.
 * Each id sets K bits from two 32-bit hashes of its text, h1 + i·h2 (Kirsch–Mitzenmacher):
 * - high bit set (written now): the sum kept to 32 bits, its place the sum's share of the bits
 *   (a multiply, no division: twice as fast to test);
 * - high bit clear (the first form, still read): the place the sum modulo the bits.
 */
const BITS_PER_ID = 16;
const K = 11;
const MIN_BYTES = 8;
/** The first byte's high bit: the placing by share. */
const BY_SHARE = 0x80;
const TWO_32 = 4_294_967_296;

/** An id's two hashes, worked out once for the many filters of its day. */
export interface IdProbe {
  h1: number;
  h2: number;
}

export function idProbe(id: string): IdProbe {
  // The second is odd, so its multiples reach every bit.
  return { h1: Bun.hash.xxHash32(id, 0), h2: (Bun.hash.xxHash32(id, 0x9e3779b9) | 1) >>> 0 };
}

export function idFilter(ids: readonly string[]): Uint8Array {
  const bytes = Math.max(MIN_BYTES, Math.ceil((ids.length * BITS_PER_ID) / 8));
  const filter = new Uint8Array(1 + bytes);
  filter[0] = BY_SHARE | K;
  const bits = bytes * 8;
  for (const id of ids) {
    let { h1: sum, h2 } = idProbe(id);
    for (let i = 0; i < K; i++) {
      const bit = Math.floor((sum / TWO_32) * bits);
      filter[1 + (bit >>> 3)] = (filter[1 + (bit >>> 3)] as number) | (1 << (bit & 7));
      sum = (sum + h2) >>> 0;
    }
  }
  return filter;
}

/** False when `id` is certainly not among the filter's ids; true when it may be (or the filter is unreadable). */
export function mayHold(filter: Uint8Array, id: string | IdProbe): boolean {
  const first = filter[0] ?? 0;
  const k = first & ~BY_SHARE;
  const bits = (filter.length - 1) * 8;
  // A damaged filter must not hide a reading: it answers "maybe", and the chunk's checksum decides.
  if (k === 0 || bits === 0) return true;
  const { h1, h2 } = typeof id === 'string' ? idProbe(id) : id;
  if ((first & BY_SHARE) === 0) return mayHoldByModulo(filter, k, bits, h1, h2);
  let sum = h1;
  for (let i = 0; i < k; i++) {
    const bit = Math.floor((sum / TWO_32) * bits);
    if (((filter[1 + (bit >>> 3)] as number) & (1 << (bit & 7))) === 0) return false;
    sum = (sum + h2) >>> 0;
  }
  return true;
}

/** The first form's test: filters written before the placing by share. */
function mayHoldByModulo(filter: Uint8Array, k: number, bits: number, h1: number, h2: number): boolean {
  for (let i = 0; i < k; i++) {
    const bit = (h1 + i * h2) % bits;
    if (((filter[1 + (bit >>> 3)] as number) & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
