import type { Database, Statement } from 'bun:sqlite';
import { ChunkCorruptError } from '../chunks/bytes.ts';
import { decodeChunk } from '../chunks/codec.ts';
import { idProbe, mayHold } from '../chunks/id-filter.ts';
import { storedId } from '../id-bytes.ts';
import { type CompressionTiers, type ReadingFilter, StorageDamagedError, type StoredRow } from '../port.ts';
import { DAY_MS, compareKept, idDayOf } from './kept-ids.ts';

/** A reading of a chunk as the port speaks it, with its id as kept (the order of pages). */
export interface ColdRow extends StoredRow {
  kept: Uint8Array | string;
}

/** A chunk's row without its bytes: which device, metric and day, and its times. */
export interface ChunkHead {
  chunk: number;
  /** How often it was rewritten: with `chunk`, what a decoded copy is kept by. */
  written: number;
  device: number;
  metricKey: number;
  deviceId: string;
  metric: string;
  day: number;
  firstTs: number;
  lastTs: number;
  count: number;
}

/** Decoded readings a connection keeps (its latest chunks'), at most. */
const MAX_CACHED_READINGS = 1_000_000;

export const HEAD = `c.chunk, c.written, c.device, c.metric AS metricKey, c.day, c.first_ts AS firstTs, c.last_ts AS lastTs, c.count,
  d.name AS deviceId, m.name AS metric`;
export const HEADS = 'reading_chunks c JOIN names d ON d.key = c.device JOIN names m ON m.key = c.metric';

/** Readings by (ts, kept id): the order of `reading_rows`' pages, and of a chunk's readings. */
export function byTimeAndId(a: { ts: number; kept: Uint8Array | string }, b: typeof a): number {
  return a.ts - b.ts || compareKept(a.kept, b.kept);
}

/**
 * The compressed tier on one connection (schema.ts `reading_chunks`): a chunk per device, metric
 * and day, found by its series and day, or by an id (a text id's entry, a UUID's day and filter).
 * Decoded chunks are kept by number and version, so pages walking a day decode it once.
 */
export function chunkStatements(sqlite: Database) {
  const idDayChunks = sqlite.prepare(
    `SELECT ${HEAD}, c.ids FROM chunk_id_days x JOIN ${HEADS} WHERE c.chunk = x.chunk AND x.id_day = ?`,
  );
  const textIdChunk = sqlite.prepare('SELECT chunk FROM chunk_text_ids WHERE id = ?');
  const headOf = sqlite.prepare(`SELECT ${HEAD} FROM ${HEADS} WHERE c.chunk = ?`);
  const bodyOf = sqlite.prepare('SELECT body FROM reading_chunks WHERE chunk = ?');
  const seriesDayHead = sqlite.prepare(
    `SELECT ${HEAD} FROM ${HEADS} WHERE c.device = ? AND c.metric = ? AND c.day = ?`,
  );
  const headOfSeriesDay = (device: number, metricKey: number, day: number) =>
    seriesDayHead.get(device, metricKey, day) as ChunkHead | null;

  const cache = new Map<string, ColdRow[]>();
  let cached = 0;
  /** Keeps a chunk's decoded readings, the least recently used going past the bound. */
  const remember = (key: string, rows: ColdRow[]) => {
    cache.set(key, rows);
    cached += rows.length;
    for (const [older, evicted] of cache) {
      if (cached <= MAX_CACHED_READINGS || older === key) break;
      cache.delete(older);
      cached -= evicted.length;
    }
  };
  /** A chunk's readings in (ts, id) order; shared: callers copy what they hand out. */
  const readingsOf = (head: ChunkHead): ColdRow[] => {
    const key = `${head.chunk}:${head.written}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const { body } = bodyOf.get(head.chunk) as { body: Uint8Array };
    const rows = decodedOrDamaged(head, body).map(
      (reading): ColdRow => ({
        id: reading.id,
        deviceId: head.deviceId,
        metric: head.metric,
        value: reading.value,
        unit: reading.unit,
        ts: reading.ts,
        storedAt: reading.storedAt,
        kept: storedId(reading.id),
      }),
    );
    remember(key, rows);
    return rows;
  };

  /** Where `id` is in the chunk of `head`, if it is there. */
  const placeIn = (head: ChunkHead, id: string) => {
    const rows = readingsOf(head);
    const index = rows.findIndex((row) => row.id === id);
    return index >= 0 ? { head, rows, index } : undefined;
  };
  type DayFilters = Array<ChunkHead & { ids: Uint8Array }>;
  const filtersOfDay = (day: number) => idDayChunks.all(day) as DayFilters;
  /**
   * The chunk holding `id` and its place there, if any chunk does: a text id by its own entry;
   * a UUID among the chunks of its day whose filters may hold it (`filters`, when the caller
   * has read that day's already).
   */
  const find = (
    id: string,
    filters?: (day: number) => DayFilters,
  ): { head: ChunkHead; rows: ColdRow[]; index: number } | undefined => {
    const kept = storedId(id);
    if (typeof kept === 'string') {
      const entry = textIdChunk.get(id) as { chunk: number } | null;
      return entry ? placeIn(headOf.get(entry.chunk) as ChunkHead, id) : undefined;
    }
    const probe = idProbe(id);
    for (const head of (filters ?? filtersOfDay)(idDayOf(kept))) {
      const found = mayHold(head.ids, probe) ? placeIn(head, id) : undefined;
      if (found) return found;
    }
    return undefined;
  };

  // The chunks of a window, by day, as a filter narrows them: one statement per shape.
  const windows = new Map<string, Statement>();
  /**
   * Heads of the chunks of days `fromDay`..`toDay` that may hold readings of `filter`, by day, as
   * they are read: a page that stops early reads no further.
   */
  const headsOf = (
    filter: ReadingFilter,
    fromDay: number,
    toDay: number,
    order: 'ASC' | 'DESC',
  ): IterableIterator<ChunkHead> => {
    const shape = `${filter.deviceId !== undefined}${filter.metric !== undefined}${order}`;
    let statement = windows.get(shape);
    if (!statement) {
      const device = filter.deviceId !== undefined ? ' AND c.device = (SELECT key FROM names WHERE name = ?3)' : '';
      const metric = filter.metric !== undefined ? ' AND c.metric = (SELECT key FROM names WHERE name = ?4)' : '';
      statement = sqlite.prepare(
        `SELECT ${HEAD} FROM ${HEADS} WHERE c.day >= ?1 AND c.day <= ?2${device}${metric} ORDER BY c.day ${order}, c.chunk`,
      );
      windows.set(shape, statement);
    }
    const params: Array<number | string | null> = [fromDay, toDay];
    if (filter.deviceId !== undefined) params[2] = filter.deviceId;
    if (filter.metric !== undefined) params[3] = filter.metric;
    // Array.from, not map: an unset place (a metric without a device) is a hole map would keep.
    return statement.iterate(...Array.from(params, (param) => param ?? null)) as IterableIterator<ChunkHead>;
  };

  /** The reading with this id, if a chunk holds it (a copy). */
  const get = (id: string, filters?: (day: number) => DayFilters): StoredRow | undefined => {
    const found = find(id, filters);
    return found && plain(found.rows[found.index] as ColdRow);
  };

  return {
    readingsOf,
    /** A chunk just written, as its writer has it decoded already (sorted): not decoded again. */
    written(chunk: number, written: number, rows: ColdRow[]) {
      remember(`${chunk}:${written}`, rows);
    },
    headsOf,
    headOfSeriesDay,
    get,
    /** Of these rows, by position, the readings a chunk holds under the same ids (as stored). */
    standing(rows: readonly StoredRow[], kept: ReadonlyArray<Uint8Array | string>): Map<number, StoredRow> {
      const standing = new Map<number, StoredRow>();
      // Each id day's filters read once for the batch: late readings share a few days.
      const byDay = new Map<number, DayFilters>();
      const filters = (day: number) => {
        let known = byDay.get(day);
        if (!known) {
          // A day without chunks (today's, for readings made today): one seek that finds nothing.
          known = filtersOfDay(day);
          byDay.set(day, known);
        }
        return known;
      };
      for (const [index, row] of rows.entries()) {
        const id = kept[index] as Uint8Array | string;
        if (typeof id === 'string' ? !textIdChunk.get(id) : filters(idDayOf(id)).length === 0) continue;
        const found = get(row.id, filters);
        if (found) standing.set(index, found);
      }
      return standing;
    },
    find,
  };
}

/** A reading as the port speaks it, apart from a chunk's copy. */
export function plain(row: ColdRow): StoredRow {
  return {
    id: row.id,
    deviceId: row.deviceId,
    metric: row.metric,
    value: row.value,
    unit: row.unit,
    ts: row.ts,
    storedAt: row.storedAt,
  };
}

/** A chunk's readings, or a StorageDamagedError naming the chunk when its bytes do not decode. */
function decodedOrDamaged(head: ChunkHead, body: Uint8Array): ReturnType<typeof decodeChunk> {
  try {
    return decodeChunk(body);
  } catch (error) {
    if (!(error instanceof ChunkCorruptError)) throw error;
    const day = new Date(head.day * DAY_MS).toISOString().slice(0, 10);
    throw new StorageDamagedError(
      `compressed chunk ${head.chunk} (device ${JSON.stringify(head.deviceId)}, metric ${JSON.stringify(head.metric)}, ${day}, ${head.count} readings) is damaged — ${error.message}; its readings cannot be read: restore the database from a backup`,
      { cause: error },
    );
  }
}

/**
 * What each tier holds (ReadingCompression.compressionTiers): a count of the rows (their smallest
 * index) and a pass over the chunks' heads — asked after each compaction pass, not per request.
 */
export function compressionTiers(sqlite: Database, beforeMs: number): CompressionTiers {
  const wholeDaysBefore = Math.floor(beforeMs / DAY_MS) * DAY_MS;
  return sqlite
    .query(
      `SELECT (SELECT count(*) FROM reading_rows) AS rowReadings,
              (SELECT count(*) FROM reading_rows WHERE ts < ?1) AS waitingRows,
              count(*) AS chunks, coalesce(sum(count), 0) AS compressedReadings,
              coalesce(sum(length(body) + length(ids)), 0) AS chunkBytes
       FROM reading_chunks`,
    )
    .get(wholeDaysBefore) as CompressionTiers;
}
