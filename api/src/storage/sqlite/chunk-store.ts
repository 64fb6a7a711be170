import type { Database, Statement } from 'bun:sqlite';
import { decodeChunk, encodeChunk } from '../chunks/codec.ts';
import { idFilter, mayHold } from '../chunks/id-filter.ts';
import { idOf, storedId } from '../id-bytes.ts';
import type { ReadingFilter, ReadingPatchFields, StoredRow } from '../port.ts';
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

const HEAD = `c.chunk, c.written, c.device, c.metric AS metricKey, c.day, c.first_ts AS firstTs, c.last_ts AS lastTs, c.count,
  d.name AS deviceId, m.name AS metric`;
const HEADS = 'reading_chunks c JOIN names d ON d.key = c.device JOIN names m ON m.key = c.metric';

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
    'SELECT c.chunk, c.ids FROM chunk_id_days x JOIN reading_chunks c ON c.chunk = x.chunk WHERE x.id_day = ?',
  );
  const anyOfIdDay = sqlite.prepare('SELECT 1 AS found FROM chunk_id_days WHERE id_day = ? LIMIT 1');
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
    const rows = decodeChunk(body).map(
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

  /** Where `id` is in chunk `chunk`, if it is there. */
  const placeIn = (chunk: number, id: string) => {
    const head = headOf.get(chunk) as ChunkHead;
    const rows = readingsOf(head);
    const index = rows.findIndex((row) => row.id === id);
    return index >= 0 ? { head, rows, index } : undefined;
  };
  /**
   * The chunk holding `id` and its place there, if any chunk does: a text id by its own entry;
   * a UUID among the chunks of its day whose filters may hold it.
   */
  const find = (id: string): { head: ChunkHead; rows: ColdRow[]; index: number } | undefined => {
    const kept = storedId(id);
    if (typeof kept === 'string') {
      const entry = textIdChunk.get(id) as { chunk: number } | null;
      return entry ? placeIn(entry.chunk, id) : undefined;
    }
    for (const { chunk, ids } of idDayChunks.all(idDayOf(kept)) as Array<{ chunk: number; ids: Uint8Array }>) {
      const found = mayHold(ids, id) ? placeIn(chunk, id) : undefined;
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
    return statement.iterate(...params.map((param) => param ?? null)) as IterableIterator<ChunkHead>;
  };

  /** The reading with this id, if a chunk holds it (a copy). */
  const get = (id: string): StoredRow | undefined => {
    const found = find(id);
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
      const daysWithChunks = new Map<number, boolean>();
      for (const [index, row] of rows.entries()) {
        const id = kept[index] as Uint8Array | string;
        if (typeof id === 'string') {
          const found = textIdChunk.get(id) ? get(row.id) : undefined;
          if (found) standing.set(index, found);
          continue;
        }
        const day = idDayOf(id);
        let any = daysWithChunks.get(day);
        if (any === undefined) {
          any = anyOfIdDay.get(day) !== null;
          daysWithChunks.set(day, any);
        }
        if (!any) continue;
        const found = get(row.id);
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

/**
 * The writer's side of the compressed tier: rows of whole days before a bound moved into their
 * chunks, and a compressed reading changed or removed by rewriting its chunk. Each runs in the
 * caller's transaction or makes its own.
 */
export function chunkWrites(
  sqlite: Database,
  chunks: ReturnType<typeof chunkStatements>,
  names: { key(name: string): number },
) {
  const insertChunk = sqlite.prepare(
    'INSERT INTO reading_chunks (device, metric, day, first_ts, last_ts, count, ids, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING chunk, written',
  );
  const updateChunk = sqlite.prepare(
    'UPDATE reading_chunks SET first_ts = ?, last_ts = ?, count = ?, ids = ?, body = ?, written = written + 1 WHERE chunk = ? RETURNING chunk, written',
  );
  const dropChunk = sqlite.prepare('DELETE FROM reading_chunks WHERE chunk = ?');
  const insertIdDay = sqlite.prepare('INSERT OR IGNORE INTO chunk_id_days (id_day, chunk) VALUES (?, ?)');
  const dropIdDays = sqlite.prepare('DELETE FROM chunk_id_days WHERE chunk = ?');
  const insertTextId = sqlite.prepare('INSERT INTO chunk_text_ids (id, chunk) VALUES (?, ?)');
  const dropTextId = sqlite.prepare('DELETE FROM chunk_text_ids WHERE id = ?');
  const dropTextIds = sqlite.prepare('DELETE FROM chunk_text_ids WHERE chunk = ?');
  const { headOfSeriesDay } = chunks;

  /**
   * A series' day as its chunk: `readings` (any order; sorted here) in place of `previous`'s, of
   * which `removed` went and `added` came; none left, no chunk. A rewrite keeps the chunk's number
   * (a reader's copy goes by its version): only the entries of ids that came or went change.
   */
  const writeSeriesDay = (
    series: { device: number; metricKey: number; day: number },
    readings: ColdRow[],
    previous: ChunkHead | null,
    change: { added?: readonly ColdRow[]; removed?: readonly ColdRow[] },
  ) => {
    if (readings.length === 0) {
      if (previous) {
        dropIdDays.run(previous.chunk);
        dropTextIds.run(previous.chunk);
        dropChunk.run(previous.chunk);
      }
      return;
    }
    readings.sort(byTimeAndId);
    const fields = [
      (readings[0] as ColdRow).ts,
      (readings.at(-1) as ColdRow).ts,
      readings.length,
      // Text ids have entries of their own: the filter is of UUIDs.
      idFilter(readings.filter((reading) => typeof reading.kept !== 'string').map((reading) => reading.id)),
      encodeChunk(readings),
    ];
    const stored = (
      previous
        ? updateChunk.get(...fields, previous.chunk)
        : insertChunk.get(series.device, series.metricKey, series.day, ...fields)
    ) as { chunk: number; written: number };
    for (const { kept } of change.removed ?? []) if (typeof kept === 'string') dropTextId.run(kept);
    for (const { kept } of change.added ?? []) if (typeof kept === 'string') insertTextId.run(kept, stored.chunk);
    // The days of its UUIDs: a few rows, written again whole.
    if (previous) dropIdDays.run(stored.chunk);
    const idDays = new Set<number>();
    for (const { kept } of readings) if (typeof kept !== 'string') idDays.add(idDayOf(kept));
    for (const idDay of idDays) insertIdDay.run(idDay, stored.chunk);
    chunks.written(stored.chunk, stored.written, readings);
  };
  // Compaction: the oldest row before the bound names the next series and day to move.
  const oldestRow = sqlite.prepare(
    'SELECT device, metric, ts FROM reading_rows WHERE ts < ? AND seq < ? ORDER BY ts LIMIT 1',
  );
  const maxSeq = sqlite.prepare('SELECT coalesce(max(seq), 0) AS seq FROM reading_rows');
  const seriesDayRows = sqlite.prepare(
    `SELECT r.seq, r.id, r.value, u.name AS unit, r.ts, r.lead, d.name AS deviceId, m.name AS metric
     FROM reading_rows r JOIN names u ON u.key = r.unit JOIN names d ON d.key = r.device JOIN names m ON m.key = r.metric
     WHERE r.device = ? AND r.ts >= ? AND r.ts < ? AND r.metric = ? AND r.seq < ?`,
  );
  const dropRow = sqlite.prepare('DELETE FROM reading_rows WHERE seq = ?');
  /** One series' rows of one day into its chunk (with what it held), in one transaction. */
  const compressSeriesDay = sqlite.transaction((device: number, metricKey: number, day: number, belowSeq: number) => {
    const rows = seriesDayRows.all(device, day * DAY_MS, (day + 1) * DAY_MS, metricKey, belowSeq) as Array<{
      seq: number;
      id: Uint8Array | string;
      value: number;
      unit: string;
      ts: number;
      lead: number;
      deviceId: string;
      metric: string;
    }>;
    const head = headOfSeriesDay(device, metricKey, day);
    const added = rows.map(
      (row): ColdRow => ({
        id: idOf(row.id),
        deviceId: row.deviceId,
        metric: row.metric,
        value: row.value,
        unit: row.unit,
        ts: row.ts,
        storedAt: row.ts + row.lead,
        kept: row.id,
      }),
    );
    writeSeriesDay({ device, metricKey, day }, [...(head ? chunks.readingsOf(head) : []), ...added], head, { added });
    for (const row of rows) dropRow.run(row.seq);
    return rows.length;
  });

  /** Puts one reading into the chunk of its series and day (made when there is none). */
  const addToChunk = (reading: ColdRow) => {
    const device = names.key(reading.deviceId);
    const metricKey = names.key(reading.metric);
    const day = Math.floor(reading.ts / DAY_MS);
    const head = headOfSeriesDay(device, metricKey, day);
    writeSeriesDay({ device, metricKey, day }, [...(head ? chunks.readingsOf(head) : []), reading], head, {
      added: [reading],
    });
  };

  // Retention: the oldest chunks first, by day; a chunk across the bound keeps its later readings.
  const chunksBefore = sqlite.prepare(
    `SELECT ${HEAD} FROM ${HEADS} WHERE c.day <= ? AND c.first_ts < ? ORDER BY c.day, c.chunk LIMIT ?`,
  );
  const removeBefore = sqlite.transaction((beforeMs: number, limit: number) => {
    let removed = 0;
    const heads = chunksBefore.all(Math.floor(beforeMs / DAY_MS), beforeMs, limit) as ChunkHead[];
    for (const head of heads) {
      if (removed >= limit) break;
      const readings = head.lastTs < beforeMs ? [] : chunks.readingsOf(head);
      const kept = readings.filter((reading) => reading.ts >= beforeMs);
      writeSeriesDay(head, kept, head, { removed: readings.filter((reading) => reading.ts < beforeMs) });
      removed += head.count - kept.length;
    }
    return removed;
  });

  return {
    /** Retention: removes about `limit` compressed readings measured before `beforeMs`, oldest chunks first. */
    removeBefore: (beforeMs: number, limit: number): number => removeBefore(beforeMs, limit),
    /**
     * Moves the rows of whole days before `beforeMs` into chunks, a series' day per transaction,
     * until about `limit` rows moved; `done` once none is left before it. The newest row by
     * sequence stays a row: SQLite numbers the next row after the greatest it holds, and the
     * change feed's sequence must never go back.
     */
    compress(beforeMs: number, limit: number): { moved: number; done: boolean } {
      const bound = Math.floor(beforeMs / DAY_MS) * DAY_MS;
      const below = (maxSeq.get() as { seq: number }).seq;
      let moved = 0;
      while (moved < limit) {
        const oldest = oldestRow.get(bound, below) as { device: number; metric: number; ts: number } | null;
        if (!oldest) return { moved, done: true };
        moved += compressSeriesDay(oldest.device, oldest.metric, Math.floor(oldest.ts / DAY_MS), below);
      }
      return { moved, done: false };
    },
    /** Removes a compressed reading (rewriting its chunk): the reading removed, or undefined. */
    remove(id: string): StoredRow | undefined {
      const found = chunks.find(id);
      if (!found) return undefined;
      const { head, rows, index } = found;
      const gone = rows[index] as ColdRow;
      writeSeriesDay(
        head,
        rows.filter((_, at) => at !== index),
        head,
        { removed: [gone] },
      );
      return plain(gone);
    },
    /**
     * Changes a compressed reading's fields (rewriting its chunk; a new metric moves it to that
     * metric's chunk of the day): the reading before and after, or undefined.
     */
    patch(id: string, fields: ReadingPatchFields): { before: StoredRow; after: StoredRow } | undefined {
      const found = chunks.find(id);
      if (!found) return undefined;
      const { head, rows, index } = found;
      const standing = rows[index] as ColdRow;
      const changed: ColdRow = {
        ...standing,
        value: fields.value ?? standing.value,
        unit: fields.unit ?? standing.unit,
        metric: fields.metric ?? standing.metric,
      };
      const rest = rows.filter((_, at) => at !== index);
      const moves = changed.metric !== standing.metric;
      if (!moves) rest.push(changed);
      writeSeriesDay(head, rest, head, { removed: [standing], added: moves ? [] : [changed] });
      if (moves) addToChunk(changed);
      return { before: plain(standing), after: plain(changed) };
    },
  };
}
