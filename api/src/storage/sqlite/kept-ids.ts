/** Milliseconds in a day: chunks hold one (UTC) day of a device's metric. */
export const DAY_MS = 86_400_000;

/**
 * The day in a kept UUID's first 48 bits: a UUIDv7's making time (any UUID gives a day, a
 * meaningless one for a v4, the same every time).
 */
export function idDayOf(kept: Uint8Array): number {
  let ms = 0;
  for (let i = 0; i < 6; i++) ms = ms * 256 + (kept[i] as number);
  return Math.floor(ms / DAY_MS);
}

const utf8 = new TextEncoder();

/**
 * SQLite's order of kept ids (`ORDER BY stored_id`): every text before every blob, texts by their
 * UTF-8 bytes, blobs by their bytes — the order pages walk, whichever tier holds a reading.
 */
export function compareKept(a: Uint8Array | string, b: Uint8Array | string): number {
  if (typeof a === 'string') {
    if (typeof b !== 'string') return -1;
    // Ids are ASCII but for the odd device: JavaScript compares UTF-16 units, SQLite bytes.
    return Buffer.compare(utf8.encode(a), utf8.encode(b));
  }
  if (typeof b === 'string') return 1;
  for (let i = 0; i < a.length && i < b.length; i++) {
    const difference = (a[i] as number) - (b[i] as number);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}
