import { storedId } from '../id-bytes.ts';
import type { Cursor, ReadingFilter, StoredRow } from '../port.ts';
import { type ColdRow, byTimeAndId, type chunkStatements, plain } from './chunk-store.ts';
import { DAY_MS, compareKept } from './kept-ids.ts';

/** Days far enough to stand for "no bound" (±2.7 million years). */
const NO_DAY = 1e9;

const dayOf = (ms: number) => (Number.isFinite(ms) ? Math.floor(ms / DAY_MS) : ms < 0 ? -NO_DAY : NO_DAY);

type Keyed = { ts: number; kept: Uint8Array | string };

/** A row of `reading_rows` keyed as chunks' readings are. */
const candidateOf = (row: StoredRow) => Object.assign(row, { kept: storedId(row.id), fromRows: true });

/**
 * A sorted part of a page's candidates: `items[at]` onward (by `step`, or the run's own) up to
 * `end`, exclusive.
 */
interface Run {
  items: readonly Keyed[];
  at: number;
  end: number;
  day: number;
  step?: 1 | -1;
}

/** The first position whose reading is at or after `key` by (ts, id) (a key without an id: its ts). */
function firstAtOrAfter(readings: readonly Keyed[], key: { ts: number; kept?: Uint8Array | string }): number {
  let low = 0;
  let high = readings.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const reading = readings[middle] as Keyed;
    const before =
      reading.ts < key.ts ||
      (reading.ts === key.ts && key.kept !== undefined && compareKept(reading.kept, key.kept) < 0);
    if (before) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first position whose reading is after `key`. */
function firstAfter(readings: readonly Keyed[], key: Keyed): number {
  const at = firstAtOrAfter(readings, key);
  const found = readings[at];
  return found && found.ts === key.ts && compareKept(found.kept, key.kept) === 0 ? at + 1 : at;
}

/** The first `limit` of the runs' readings in `ordered` order (a heap of runs), as the port hands them out. */
function mergeRuns(runs: Run[], limit: number, step: 1 | -1, ordered: (a: Keyed, b: Keyed) => number): StoredRow[] {
  const current = (run: Run) => run.items[run.at] as Keyed;
  const less = (a: Run, b: Run) => ordered(current(a), current(b)) < 0;
  const heap = runs.filter((run) => run.at !== run.end);
  const down = (from: number) => {
    for (let at = from; ; ) {
      const left = 2 * at + 1;
      const right = left + 1;
      let least = at;
      if (left < heap.length && less(heap[left] as Run, heap[least] as Run)) least = left;
      if (right < heap.length && less(heap[right] as Run, heap[least] as Run)) least = right;
      if (least === at) return;
      [heap[at], heap[least]] = [heap[least] as Run, heap[at] as Run];
      at = least;
    }
  };
  for (let at = (heap.length >>> 1) - 1; at >= 0; at--) down(at);
  const page: StoredRow[] = [];
  while (page.length < limit && heap.length > 0) {
    const run = heap[0] as Run;
    page.push(handedOut(current(run)));
    run.at += run.step ?? step;
    if (run.at === run.end) {
      heap[0] = heap.at(-1) as Run;
      heap.pop();
    }
    if (heap.length > 0) down(0);
  }
  return page;
}

/** A row of `reading_rows` as it was; a chunk's reading as a copy of its own. */
function handedOut(reading: Keyed): StoredRow {
  if ('fromRows' in reading) {
    const { kept, fromRows, ...row } = reading as StoredRow & { kept: unknown; fromRows: true };
    return row;
  }
  return plain(reading as ColdRow);
}

/**
 * Reads that see both tiers: what `reading_rows` answers, merged with what the chunks of the same
 * window hold. A page walks the window's chunks a day at a time from the cursor and stops at the
 * first day that cannot hold a reading of the page; a count adds whole chunks by their count and
 * opens only those across the window's edges.
 */
export function coldReads(chunks: ReturnType<typeof chunkStatements>) {
  return {
    count(filter: ReadingFilter): number {
      const fromMs = filter.fromMs ?? Number.NEGATIVE_INFINITY;
      const toMs = filter.toMs ?? Number.POSITIVE_INFINITY;
      let count = 0;
      for (const head of chunks.headsOf(filter, dayOf(fromMs), dayOf(toMs - 1), 'ASC')) {
        if (head.firstTs >= fromMs && head.lastTs < toMs) count += head.count;
        else for (const reading of chunks.readingsOf(head)) if (reading.ts >= fromMs && reading.ts < toMs) count += 1;
      }
      return count;
    },

    /**
     * The first `limit` readings of `filter` after the cursor, oldest or newest first by (ts, id),
     * of the rows' own page (`rows`, the same query on `reading_rows`) and the chunks: each chunk's
     * readings are in that order already, so its part of the page is found by binary search and
     * the parts are merged, never sorted whole.
     */
    page(
      rows: StoredRow[],
      filter: ReadingFilter,
      limit: number,
      after: Cursor | undefined,
      order: 'oldest' | 'newest',
    ): StoredRow[] {
      const oldest = order === 'oldest';
      const fromMs = filter.fromMs ?? Number.NEGATIVE_INFINITY;
      const toMs = filter.toMs ?? Number.POSITIVE_INFINITY;
      const cursor = after && { ts: after.ts, kept: storedId(after.id) };
      const windowFrom = Math.max(fromMs, oldest && after ? after.ts : Number.NEGATIVE_INFINITY);
      const windowTo = Math.min(toMs, !oldest && after ? after.ts + 1 : Number.POSITIVE_INFINITY);
      if (windowTo <= windowFrom) return rows;

      const runs: Run[] = [];
      let fromChunks = 0;
      const rowsLast = rows.length === limit ? (rows.at(-1) as StoredRow) : undefined;
      for (const head of chunks.headsOf(filter, dayOf(windowFrom), dayOf(windowTo - 1), oldest ? 'ASC' : 'DESC')) {
        // Days after those that gave a page's worth, or past the rows' last, add nothing.
        const dayFirst = head.day * DAY_MS;
        const dayLast = dayFirst + DAY_MS - 1;
        if (fromChunks >= limit && runs.at(-1)?.day !== head.day) break;
        if (rowsLast && (oldest ? dayFirst > rowsLast.ts : dayLast < rowsLast.ts)) break;
        const readings = chunks.readingsOf(head);
        let start = firstAtOrAfter(readings, { ts: fromMs });
        let end = firstAtOrAfter(readings, { ts: toMs });
        if (cursor && oldest) start = Math.max(start, firstAfter(readings, cursor));
        if (cursor && !oldest) end = Math.min(end, firstAtOrAfter(readings, cursor));
        if (end <= start) continue;
        runs.push({ items: readings, at: oldest ? start : end - 1, end: oldest ? end : start - 1, day: head.day });
        fromChunks += end - start;
      }
      if (runs.length === 0) return rows;
      const step = oldest ? 1 : -1;
      runs.push({ items: rows.map(candidateOf), at: 0, end: rows.length, day: Number.NaN, step: 1 });
      return mergeRuns(runs, limit, step, oldest ? byTimeAndId : (a, b) => byTimeAndId(b, a));
    },
  };
}
