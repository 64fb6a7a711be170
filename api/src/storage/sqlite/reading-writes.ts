import type { Database } from 'bun:sqlite';
import { storedId } from '../id-bytes.ts';
import { type BatchOutcome, type Conflict, type ReadingPatchFields, type StoredRow, sameReading } from '../port.ts';
import type { chunkStatements } from './chunk-store.ts';
import { chunkWrites } from './chunk-writes.ts';
import { nameKeys, withIdText } from './compact.ts';
import type { rollupStatements } from './rollups.ts';

/** A reading's columns as the port speaks them, from the `readings` view (schema.ts); the id as kept, for withIdText. */
export const READING_COLUMNS = 'stored_id AS id, device_id AS deviceId, metric, value, unit, ts, stored_at AS storedAt';
/** One reading by id: its row found by the id's index, then read through the view by seq. */
export const BY_ID = 'seq = (SELECT seq FROM reading_rows WHERE id = ?)';

/**
 * The writes of readings on one connection, each one transaction with the rollups it changes:
 * groups of batches inserted (group commit), a reading patched, a reading removed — wherever it
 * is kept, a row or in a compressed chunk (chunk-store.ts).
 */
export function readingWrites(
  sqlite: Database,
  rollups: ReturnType<typeof rollupStatements>,
  chunks: ReturnType<typeof chunkStatements>,
) {
  // The hot path: a raw prepared statement costs about a third of the CPU of the query builder.
  const insertOne = sqlite.prepare(
    'INSERT OR IGNORE INTO reading_rows (id, device, metric, value, unit, ts, lead) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const storedById = sqlite.prepare(`SELECT ${READING_COLUMNS} FROM readings WHERE ${BY_ID}`);
  const names = nameKeys(sqlite);
  const cold = chunkWrites(sqlite, chunks, names);
  /** One request's rows: each stored (added to `stored`), a duplicate, or a conflict. */
  const insertRows = (rows: readonly StoredRow[], stored: StoredRow[]): BatchOutcome => {
    const before = stored.length;
    const conflicts: Conflict[] = [];
    const ids = rows.map((row) => storedId(row.id));
    // Ids a chunk holds already: found by the day in the id (none, mostly: one lookup a batch).
    const compressed = chunks.standing(rows, ids);
    for (const [index, row] of rows.entries()) {
      const id = ids[index] as Uint8Array | string;
      const standingCold = compressed.get(index);
      if (standingCold) {
        if (!sameReading(standingCold, row)) conflicts.push({ index, offered: row, stored: standingCold });
        continue;
      }
      if (
        insertOne.run(
          id,
          names.key(row.deviceId),
          names.key(row.metric),
          row.value,
          names.key(row.unit),
          row.ts,
          row.storedAt - row.ts,
        ).changes === 1
      ) {
        stored.push(row);
        continue;
      }
      // Ignored: the same reading again (a duplicate), or the same id with other content.
      const standing = storedById.get(id) as StoredRow | null;
      if (standing && !sameReading(withIdText(standing), row))
        conflicts.push({ index, offered: row, stored: standing });
    }
    const inserted = stored.length - before;
    return { inserted, duplicates: rows.length - inserted - conflicts.length, conflicts };
  };
  /**
   * Several requests' rows in one transaction (group commit), each answered as if alone: a row
   * an earlier request of the group stored is a duplicate (or a conflict) for a later one.
   */
  const insertGroups = sqlite.transaction((groups: ReadonlyArray<readonly StoredRow[]>) => {
    const stored: StoredRow[] = [];
    const outcomes = groups.map((rows) => insertRows(rows, stored));
    // The rollups of what was stored, in the same transaction: they never disagree with the rows.
    rollups.add(stored);
    return outcomes;
  });
  const placeOf = sqlite.prepare(`SELECT device_id AS deviceId, metric, ts FROM readings WHERE ${BY_ID}`);
  const updateOne = sqlite.prepare(
    'UPDATE reading_rows SET value = coalesce(?, value), unit = coalesce(?, unit), metric = coalesce(?, metric) WHERE id = ?',
  );
  const deleteOne = sqlite.prepare('DELETE FROM reading_rows WHERE id = ?');
  // A changed or removed reading's minute is rolled up again from its rows (with its old metric
  // and, when that changed, its new one).
  const patchOne = sqlite.transaction((id: string, fields: ReadingPatchFields) => {
    const key = storedId(id);
    const before = placeOf.get(key) as { deviceId: string; metric: string; ts: number } | null;
    if (!before) {
      const changed = cold.patch(id, fields);
      if (!changed) return undefined;
      rollups.recompute(changed.before.deviceId, changed.before.metric, changed.before.ts);
      if (changed.after.metric !== changed.before.metric)
        rollups.recompute(changed.after.deviceId, changed.after.metric, changed.after.ts);
      return changed.after;
    }
    const nameKey = (name: string | undefined) => (name === undefined ? null : names.key(name));
    updateOne.run(fields.value ?? null, nameKey(fields.unit), nameKey(fields.metric), key);
    const after = withIdText(storedById.get(key) as StoredRow);
    rollups.recompute(before.deviceId, before.metric, before.ts);
    if (after.metric !== before.metric) rollups.recompute(after.deviceId, after.metric, after.ts);
    return after;
  });
  const removeOne = sqlite.transaction((id: string) => {
    const key = storedId(id);
    const before = (placeOf.get(key) as { deviceId: string; metric: string; ts: number } | null) ?? cold.remove(id);
    if (!before) return false;
    deleteOne.run(key);
    rollups.recompute(before.deviceId, before.metric, before.ts);
    return true;
  });
  // A failed transaction may have made name keys that were rolled back with it.
  const forgettingNames =
    <A extends unknown[], R>(write: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return write(...args);
      } catch (error) {
        names.forget();
        throw error;
      }
    };
  return {
    insertGroups: forgettingNames(insertGroups),
    patchOne: forgettingNames(patchOne),
    removeOne,
    byId: storedById,
    /** Compaction and retention of the compressed tier (see chunk-writes.ts), each its own transactions. */
    compress: forgettingNames(cold.compress),
    removeCompressedBefore: cold.removeBefore,
  };
}
