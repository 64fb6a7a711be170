import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { InvalidEventError } from './contracts/errors.ts';
import type { Reading } from './contracts/reading.ts';
import { readingFromInput } from './contracts/reading-input.ts';
import { parseFiniteNumber } from './contracts/fields.ts';

export type ReplayItem = { reading: Reading; line: number } | { line: number; error: string };

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
  // Counted as read, for progress; readline reads the same chunks (after gunzip, if gzip).
  raw.on('data', (chunk: Buffer | string) => {
    progress.bytes += chunk.length;
  });
  const input = source !== '-' && isGzip(source) ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const toReading = (row: Record<string, unknown>, line: number) => rowToReading(row, line, mintId);
  const iterator = lines[Symbol.asyncIterator]();
  // Peek at the first non-empty line to tell NDJSON from CSV.
  let lineNumber = 0;
  let first: string | undefined;
  while (first === undefined) {
    const next = await iterator.next();
    if (next.done) return;
    lineNumber += 1;
    // A byte-order mark (spreadsheets save UTF-8 CSV with one) would make the header's first
    // name "\uFEFFid" and every line unreadable.
    const line = lineNumber === 1 ? next.value.replace(/^\uFEFF/, '') : next.value;
    if (line.trim() !== '') first = line;
  }
  if (first.trimStart().startsWith('{')) {
    yield fromJsonLine(first, lineNumber, toReading);
    for await (const line of { [Symbol.asyncIterator]: () => iterator }) {
      lineNumber += 1;
      if (line.trim() !== '') yield fromJsonLine(line, lineNumber, toReading);
    }
    return;
  }
  yield* fromCsv(first, lineNumber, iterator, toReading);
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

function fromJsonLine(line: string, lineNumber: number, toReading: (row: Record<string, unknown>, line: number) => ReplayItem): ReplayItem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { line: lineNumber, error: 'not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { line: lineNumber, error: 'not a JSON object' };
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
  rest: AsyncIterator<string>,
  toReading: (row: Record<string, unknown>, line: number) => ReplayItem,
): AsyncGenerator<ReplayItem> {
  const header = parseCsvLine(headerLine);
  const required = ['deviceId', 'metric', 'value', 'unit', 'ts'];
  const missing = header ? required.filter((name) => !header.includes(name)) : required;
  if (!header || missing.length > 0) {
    yield { line: headerNumber, error: `CSV header must name ${required.join(', ')}; missing ${missing.join(', ')}` };
    return;
  }
  let lineNumber = headerNumber;
  for await (const line of { [Symbol.asyncIterator]: () => rest }) {
    lineNumber += 1;
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

function rowToReading(row: Record<string, unknown>, line: number, mintId?: (tsMs: number, line: number) => string): ReplayItem {
  try {
    // CSV cells are text: numbers are read here, the rest is the contract's (readingFromInput).
    const ts = typeof row.ts === 'string' && /^\d+$/.test(row.ts) ? Number(row.ts) : row.ts;
    const value = typeof row.value === 'string' ? parseFiniteNumber('value', row.value) : row.value;
    return { reading: readingFromInput({ ...row, ts, value }, Date.now(), mintId ? (tsMs) => mintId(tsMs, line) : undefined), line };
  } catch (error) {
    if (error instanceof InvalidEventError) return { line, error: `${error.field}: ${error.reason}` };
    throw error;
  }
}
