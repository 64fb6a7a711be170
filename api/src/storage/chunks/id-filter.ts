/**
 * Which ids a compressed chunk may hold, in about a byte and a quarter an id: a Bloom filter.
 * "No" is certain, "maybe" is right ~99 times in 100 — so a lookup by id decodes the few chunks
 * that answer "maybe" instead of every chunk of a day, and an id refused as a duplicate or a
 * conflict is always refused by its chunk's own readings, never by the filter.
 *
 * Form: a byte saying how many hashes (K), then the bits. Each id sets K bits, from two 32-bit
 * hashes of its text (Kirsch–Mitzenmacher: h1 + i·h2).
 */
const BITS_PER_ID = 10;
const K = 7;
const MIN_BYTES = 8;

export function idFilter(ids: readonly string[]): Uint8Array {
  const bytes = Math.max(MIN_BYTES, Math.ceil((ids.length * BITS_PER_ID) / 8));
  const filter = new Uint8Array(1 + bytes);
  filter[0] = K;
  const bits = bytes * 8;
  for (const id of ids) {
    const [h1, h2] = hashes(id);
    for (let i = 0; i < K; i++) {
      const bit = (h1 + i * h2) % bits;
      filter[1 + (bit >>> 3)] = (filter[1 + (bit >>> 3)] as number) | (1 << (bit & 7));
    }
  }
  return filter;
}

/** False when `id` is certainly not among the filter's ids; true when it may be (or the filter is unreadable). */
export function mayHold(filter: Uint8Array, id: string): boolean {
  const k = filter[0] ?? 0;
  const bits = (filter.length - 1) * 8;
  // A damaged filter must not hide a reading: it answers "maybe", and the chunk's checksum decides.
  if (k === 0 || bits === 0) return true;
  const [h1, h2] = hashes(id);
  for (let i = 0; i < k; i++) {
    const bit = (h1 + i * h2) % bits;
    if (((filter[1 + (bit >>> 3)] as number) & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

function hashes(id: string): [number, number] {
  // The second is odd, so its multiples reach every bit.
  return [Bun.hash.xxHash32(id, 0), (Bun.hash.xxHash32(id, 0x9e3779b9) | 1) >>> 0];
}
