import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { type BoundedLine, MAX_LINE_BYTES, boundedLines } from './bounded-lines.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth.ts';
import { InvalidEventError } from './contracts/errors.ts';
import type { Reading } from './contracts/reading.ts';
import { readingFromInput } from './contracts/reading-input.ts';
import { parseFiniteNumber } from './contracts/fields.ts';

export type ReplayItem = { reading: Reading; line: number } | { line: number; error: string };

/** Columns a CSV header may name at most: a reading has six. */
export const MAX_CSV_COLUMNS = 64;
/**
 * Decompressed bytes per compressed byte past which a gzip file is refused (checked once 16 MiB
 * are out): readings' CSV compresses 5–20×, a gzip bomb of one repeated byte about 1,000×.
 */
export const MAX_GZIP_EXPANSION = 200;
const EXPANSION_CHECKED_AFTER = 16 * 1024 * 1024;

/** A file that cannot be read as readings at all (not one bad line): its import fails with this reason. */
export class FileRefused extends Error {
  override readonly name = 'FileRefused';
}

export interface ReadingFileOptions {
  /** Counts the file's bytes as they are read (compressed bytes for a gzip file). */
  progress?: { bytes: number };
  /**
   * The id of a reading that has none, from its time and line. Default: a new UUIDv7; an import
   * that may read a line twice (resuming after a restart) passes one that gives the same id.
   */
  mintId?: (tsMs: number, line: number) => string;
}

/**
 * Reads readings from a CSV (with a header row naming deviceId, metric, value, unit, ts and
 * optionally id) or NDJSON file — gzip-compressed or not — or from stdin with `-`. Streams:
 * constant memory for any size.
 * A bad line is yielded as an error with its line number; it never stops the replay.
 * `ts` may be epoch milliseconds or an ISO-8601 date; a row without `id` gets a new one.
 * `progress.bytes` follows how much of the source has been read.
 */
export async function* readReadingFile(source: string, options: ReadingFileOptions = {}): AsyncGenerator<ReplayItem> {
  const { progress = { bytes: 0 }, mintId } = options;
  const raw = openSource(source);
  const gzip = source !== '-' && isGzip(source);
  if (gzip) {
    // Compressed bytes counted as gunzip takes them, for progress and the expansion bound.
    raw.on('data', (chunk: Buffer | string) => {
      progress.bytes += chunk.length;
    });
  }
  const bytes = gzip
    ? boundedExpansion(raw.pipe(createGunzip()), progress)
    : counted(raw as AsyncIterable<Buffer>, progress);
  const toReading = (row: Record<string, unknown>, line: number) => rowToReading(row, line, mintId);
  const iterator = boundedLines(bytes)[Symbol.asyncIterator]();
  try {
    // Peek at the first non-empty line to tell NDJSON from CSV.
    let first: { line: number; text: string } | undefined;
    while (first === undefined) {
      const next = await iterator.next();
      if (next.done) return;
      if ('tooLong' in next.value) {
        yield tooLong(next.value.line);
        continue;
      }
      // A byte-order mark (spreadsheets save UTF-8 CSV with one) would make the header's first
      // name "\uFEFFid" and every line unreadable.
      const text = next.value.line === 1 ? next.value.text.replace(/^\uFEFF/, '') : next.value.text;
      if (text.trim() !== '') first = { line: next.value.line, text };
    }
    if (first.text.trimStart().startsWith('{')) {
      yield fromJsonLine(first.text, first.line, toReading);
      for await (const item of { [Symbol.asyncIterator]: () => iterator }) {
        if ('tooLong' in item) yield tooLong(item.line);
        else if (item.text.trim() !== '') yield fromJsonLine(item.text, item.line, toReading);
      }
      return;
    }
    yield* fromCsv(first.text, first.line, iterator, toReading);
  } finally {
    // An import cancelled or failed mid-file: the file is closed now, not when collected.
    (raw as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
}

async function* counted(chunks: AsyncIterable<Buffer>, progress: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    progress.bytes += chunk.length;
    yield chunk;
  }
}

const tooLong = (line: number): ReplayItem => ({ line, error: `line is longer than ${MAX_LINE_BYTES} bytes; skipped` });

/**
 * Decompressed chunks, refused (FileRefused) once they outgrow the compressed bytes read by more
 * than MAX_GZIP_EXPANSION: a 10 MB file that inflates to 10 GB fails in a fraction of a second
 * instead of taking its time and CPU.
 */
async function* boundedExpansion(
  inflated: AsyncIterable<Buffer>,
  compressed: { bytes: number },
): AsyncGenerator<Buffer> {
  let out = 0;
  for await (const chunk of inflated) {
    out += chunk.length;
    if (out > EXPANSION_CHECKED_AFTER && out > compressed.bytes * MAX_GZIP_EXPANSION) {
      throw new FileRefused(
        `gzip expands more than ${MAX_GZIP_EXPANSION}× (${out} bytes from ${compressed.bytes}): refused as a decompression bomb`,
      );
    }
    yield chunk;
  }
}

function openSource(source: string): NodeJS.ReadableStream {
  if (source === '-') return process.stdin;
  return createReadStream(source, { highWaterMark: 1 << 20 });
}

/** True when the file starts with gzip's magic bytes. */
function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function fromJsonLine(
  line: string,
  lineNumber: number,
  toReading: (row: Record<string, unknown>, line: number) => ReplayItem,
): ReplayItem {
  if (jsonDepthExceeds(line, MAX_JSON_DEPTH))
    return { line: lineNumber, error: `nests JSON deeper than ${MAX_JSON_DEPTH} levels` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { line: lineNumber, error: 'not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { line: lineNumber, error: 'not a JSON object' };
  return toReading(parsed as Record<string, unknown>, lineNumber);
}

/**
 * CSV is read line by line so that every record keeps its line number; a line with quotes goes
 * through csv-parse. A malformed line is reported and the next is parsed afresh. (Quoted fields
 * spanning lines are not supported: no field of a reading may hold a newline.)
 */
async function* fromCsv(
  headerLine: string,
  headerNumber: number,
  rest: AsyncIterator<BoundedLine>,
  toReading: (row: Record<string, unknown>, line: number) => ReplayItem,
): AsyncGenerator<ReplayItem> {
  const header = parseCsvLine(headerLine);
  if (header && header.length > MAX_CSV_COLUMNS) {
    yield { line: headerNumber, error: `CSV header names ${header.length} columns; at most ${MAX_CSV_COLUMNS}` };
    return;
  }
  const required = ['deviceId', 'metric', 'value', 'unit', 'ts'];
  const missing = header ? required.filter((name) => !header.includes(name)) : required;
  if (!header || missing.length > 0) {
    yield { line: headerNumber, error: `CSV header must name ${required.join(', ')}; missing ${missing.join(', ')}` };
    return;
  }
  for await (const item of { [Symbol.asyncIterator]: () => rest }) {
    const lineNumber = item.line;
    if ('tooLong' in item) {
      yield tooLong(lineNumber);
      continue;
    }
    const line = item.text;
    if (line.trim() === '') continue;
    const cells = parseCsvLine(line);
    if (!cells) {
      yield { line: lineNumber, error: 'malformed CSV (unbalanced quotes?)' };
      continue;
    }
    if (cells.length !== header.length) {
      yield { line: lineNumber, error: `expected ${header.length} columns, found ${cells.length}` };
      continue;
    }
    const row: Record<string, unknown> = {};
    header.forEach((name, index) => {
      row[name] = cells[index];
    });
    yield toReading(row, lineNumber);
  }
}

/** Splits one CSV line; undefined when it is malformed. Fast path for lines without quotes. */
function parseCsvLine(line: string): string[] | undefined {
  if (!line.includes('"')) return line.split(',');
  try {
    const records = parse(line, { relax_column_count: true }) as string[][];
    return records[0];
  } catch {
    return undefined;
  }
}

function rowToReading(
  row: Record<string, unknown>,
  line: number,
  mintId?: (tsMs: number, line: number) => string,
): ReplayItem {
  try {
    // CSV cells are text: numbers are read here, the rest is the contract's (readingFromInput).
    const ts = typeof row.ts === 'string' && /^\d+$/.test(row.ts) ? Number(row.ts) : row.ts;
    const value = typeof row.value === 'string' ? parseFiniteNumber('value', row.value) : row.value;
    return {
      reading: readingFromInput({ ...row, ts, value }, Date.now(), mintId ? (tsMs) => mintId(tsMs, line) : undefined),
      line,
    };
  } catch (error) {
    if (error instanceof InvalidEventError) return { line, error: `${error.field}: ${error.reason}` };
    throw error;
  }
}
