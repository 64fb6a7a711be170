import type { Database } from 'bun:sqlite';
import { encodeChunk } from '../chunks/codec.ts';
import { idFilter } from '../chunks/id-filter.ts';
import { idOf } from '../id-bytes.ts';
import type { ReadingPatchFields, StoredRow } from '../port.ts';
import { type ChunkHead, type ColdRow, HEAD, HEADS, byTimeAndId, type chunkStatements, plain } from './chunk-store.ts';
import { DAY_MS, idDayOf } from './kept-ids.ts';

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

  /**
   * A step of compaction, one transaction: series' days, oldest first, until about `limit` rows
   * moved. One transaction, not one a series' day: the step holds the writer either way, and the
   * rows of one day share their table's and time index's pages, which a commit a series wrote to
   * the WAL again each time (42 µs of CPU a reading moved, mostly that).
   */
  const compressStep = sqlite.transaction((beforeMs: number, limit: number): { moved: number; done: boolean } => {
    const bound = Math.floor(beforeMs / DAY_MS) * DAY_MS;
    const below = (maxSeq.get() as { seq: number }).seq;
    let moved = 0;
    while (moved < limit) {
      const oldest = oldestRow.get(bound, below) as { device: number; metric: number; ts: number } | null;
      if (!oldest) return { moved, done: true };
      moved += compressSeriesDay(oldest.device, oldest.metric, Math.floor(oldest.ts / DAY_MS), below);
    }
    return { moved, done: false };
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
     * Moves the rows of whole days before `beforeMs` into chunks, a series' day after another in
     * one transaction, until about `limit` rows moved; `done` once none is left before it. The newest row by
     * sequence stays a row: SQLite numbers the next row after the greatest it holds, and the
     * change feed's sequence must never go back.
     */
    compress: (beforeMs: number, limit: number): { moved: number; done: boolean } => compressStep(beforeMs, limit),
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
