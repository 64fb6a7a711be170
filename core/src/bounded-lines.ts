/**
 * Lines of a byte stream with a bound on each: constant memory whatever the input. readline
 * grows one line without limit (a 10 GB run of NUL bytes without a newline took the API to 2.75
 * GB and "Out of memory"); here a line past `maxLineBytes` is not kept — its bytes are skipped up
 * to the next newline and it is reported as too long, by number, and the next line is read as
 * usual.
 */
export type BoundedLine = { line: number; text: string } | { line: number; tooLong: true };

/** Longest line kept (64 KiB): a reading's line is well under 1 KiB. */
export const MAX_LINE_BYTES = 64 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export async function* boundedLines(
  chunks: AsyncIterable<Uint8Array | string>,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<BoundedLine> {
  const decoder = new TextDecoder();
  let pieces: Uint8Array[] = [];
  let pendingBytes = 0;
  let skipping = false;
  let line = 0;
  const take = (): BoundedLine => {
    line += 1;
    if (skipping) {
      skipping = false;
      return { line, tooLong: true };
    }
    const bytes = pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces);
    pieces = [];
    pendingBytes = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
    return { line, text: decoder.decode(bytes.subarray(0, end)) };
  };
  /** Keeps a piece of the current line, or starts skipping it once it is too long. */
  const keep = (piece: Uint8Array) => {
    if (skipping || piece.length === 0) return;
    if (pendingBytes + piece.length > maxLineBytes) {
      skipping = true;
      pieces = [];
      pendingBytes = 0;
      return;
    }
    pieces.push(piece);
    pendingBytes += piece.length;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (let at = bytes.indexOf(NEWLINE, from); at >= 0; at = bytes.indexOf(NEWLINE, from)) {
      keep(bytes.subarray(from, at));
      yield take();
      from = at + 1;
    }
    // Copied: the stream may reuse its buffer for the next chunk.
    if (from < bytes.length) keep(Uint8Array.prototype.slice.call(bytes.subarray(from)));
  }
  if (pendingBytes > 0 || skipping) yield take();
}
