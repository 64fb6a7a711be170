import type { SQL } from 'bun';
import { type BatchOutcome, type Conflict, type ReadingPatchFields, type StoredRow, sameReading } from '../port.ts';
import type { createPartitions } from './partitions.ts';
import { INSERT_LOCK, recomputeMinute } from './rollups.ts';
import { type Row, toStored } from './rows.ts';

/** Device ids an instance remembers as stored at most (a hostile client could send any number). */
const MAX_KNOWN_DEVICES = 100_000;

/**
 * The writes of readings, each one transaction under the insert lock with the rollups it
 * changes and a NOTIFY (`notify`) that goes out at commit: a batch inserted (one statement over
 * `unnest` arrays), a reading patched, a reading removed.
 */
export function readingWrites(
  sql: SQL,
  partitions: ReturnType<typeof createPartitions>,
  notify: (on: SQL) => Promise<unknown>,
) {
  // Device ids this instance knows are in `devices`: a cache, so bounded (cleared when full).
  const knownDevices = new Set<string>();
  return {
    async insert(rows: readonly StoredRow[]): Promise<BatchOutcome> {
      if (rows.length === 0) return { inserted: 0, duplicates: 0, conflicts: [] };
      // A repeated id within the batch is stored once (the first occurrence); the later ones are
      // compared, after the insert, with whichever version then stands for that id.
      const first = new Map<string, number>();
      const repeats: number[] = [];
      for (const [index, row] of rows.entries()) {
        if (first.has(row.id)) repeats.push(index);
        else first.set(row.id, index);
      }
      const uniqueIndexes = [...first.values()];
      const unique = uniqueIndexes.map((index) => rows[index] as StoredRow);
      const conflicts: Conflict[] = [];
      await partitions.ensureFor(unique.map((row) => row.ts));
      const column = <K extends keyof StoredRow>(key: K) => unique.map((row) => row[key]);
      const newDevices = [...new Set(column('deviceId'))].filter((id) => !knownDevices.has(id));
      const store = () =>
        sql.begin(async (tx) => {
          await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
          // A device's id is in `devices` before any rollup of it is (see the migration): added
          // with the first batch this instance sees of it — one statement for the batches that
          // bring a device it has not seen, none for the rest.
          if (newDevices.length > 0)
            await tx`INSERT INTO devices (device_id) SELECT unnest(${newDevices}::text[]) ON CONFLICT DO NOTHING`;
          // reading_ids decides which rows are new; those go into readings in batch order.
          const result = await tx`
        WITH batch AS (
          SELECT * FROM unnest(
            ${column('id')}::text[], ${column('deviceId')}::text[], ${column('metric')}::text[], ${column('value')}::float8[],
            ${column('unit')}::text[], ${column('ts')}::bigint[], ${column('storedAt')}::bigint[]
          ) WITH ORDINALITY AS b(id, device_id, metric, value, unit, ts, stored_at, n)
        ), fresh AS (
          INSERT INTO reading_ids (id, ts) SELECT id, ts FROM batch ON CONFLICT (id) DO NOTHING RETURNING id
        )
        , stored AS (
          INSERT INTO readings (id, device_id, metric, value, unit, ts, stored_at)
          SELECT b.id, b.device_id, b.metric, b.value, b.unit, b.ts, b.stored_at
          FROM batch b JOIN fresh USING (id) ORDER BY b.n
          RETURNING id, device_id, metric, value, ts
        ), by_device AS (
          -- The rollups of what was stored (see ../rollups.ts), in the same statement.
          INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
          SELECT 1, ts / 60000, device_id, metric, count(*), sum(value), min(value), max(value) FROM stored GROUP BY 2, 3, 4
          ON CONFLICT (level, start_minute, device_id, metric) DO UPDATE SET
            count = rollups_device.count + excluded.count, sum = rollups_device.sum + excluded.sum,
            min = least(rollups_device.min, excluded.min), max = greatest(rollups_device.max, excluded.max)
        ), by_metric AS (
          INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
          SELECT 1, ts / 60000, metric, count(*), sum(value), min(value), max(value) FROM stored GROUP BY 2, 3
          ON CONFLICT (level, start_minute, metric) DO UPDATE SET
            count = rollups_metric.count + excluded.count, sum = rollups_metric.sum + excluded.sum,
            min = least(rollups_metric.min, excluded.min), max = greatest(rollups_metric.max, excluded.max)
        ), dirty AS (
          INSERT INTO rollup_dirty (hour) SELECT DISTINCT ts / 3600000 FROM stored ON CONFLICT DO NOTHING
        )
        SELECT id FROM stored`;
          if (result.count > 0) await notify(tx);
          const stored = new Set(result.map((row: { id: string }) => row.id));
          // Ids stored before: the same reading again, or the same id with other content.
          const already = uniqueIndexes.filter((index) => !stored.has((rows[index] as StoredRow).id));
          const standing = new Map<string, StoredRow>(
            unique.filter((row) => stored.has(row.id)).map((row) => [row.id, row]),
          );
          if (already.length > 0) {
            const ids = already.map((index) => (rows[index] as StoredRow).id);
            const existing =
              await tx`SELECT r.* FROM reading_ids i JOIN readings r ON r.ts = i.ts AND r.id = i.id WHERE i.id = ANY(${ids}::text[])`;
            for (const row of existing as Row[]) standing.set(row.id, toStored(row));
          }
          for (const index of [...already, ...repeats].sort((a, b) => a - b)) {
            const row = rows[index] as StoredRow;
            const version = standing.get(row.id);
            if (version && !sameReading(version, row)) conflicts.push({ index, offered: row, stored: version });
          }
          return stored.size;
        });
      let inserted: number;
      try {
        inserted = await store();
      } catch (error) {
        // Another instance's retention dropped a day this one still knew: make it again, once.
        if (!/no partition of relation/.test(String((error as Error).message))) throw error;
        partitions.forget();
        await partitions.ensureFor(unique.map((row) => row.ts));
        conflicts.length = 0;
        inserted = await store();
      }
      if (knownDevices.size + newDevices.length > MAX_KNOWN_DEVICES) knownDevices.clear();
      for (const id of newDevices) knownDevices.add(id);
      return { inserted, duplicates: rows.length - inserted - conflicts.length, conflicts };
    },

    // A changed or removed reading's minute is rolled up again from its rows (with its old metric
    // and, when that changed, its new one), under the insert lock: no batch adds to it meanwhile.
    patch(id: string, fields: ReadingPatchFields): Promise<StoredRow | undefined> {
      return sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
        const [before] =
          await tx`SELECT r.device_id, r.metric, r.ts FROM reading_ids i JOIN readings r ON r.ts = i.ts AND r.id = i.id WHERE i.id = ${id}`;
        if (!before) return undefined;
        const [updated] = await tx`
        UPDATE readings r SET
          value = coalesce(${fields.value ?? null}::float8, r.value),
          unit = coalesce(${fields.unit ?? null}::text, r.unit),
          metric = coalesce(${fields.metric ?? null}::text, r.metric)
        WHERE r.id = ${id} AND r.ts = ${before.ts}
        RETURNING r.*`;
        const after = toStored(updated);
        await recomputeMinute(tx, before.device_id, before.metric, after.ts);
        if (after.metric !== before.metric) await recomputeMinute(tx, after.deviceId, after.metric, after.ts);
        await notify(tx);
        return after;
      });
    },

    remove(id: string): Promise<boolean> {
      return sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
        const [gone] = await tx`DELETE FROM reading_ids WHERE id = ${id} RETURNING ts`;
        if (!gone) return false;
        const [row] =
          await tx`DELETE FROM readings WHERE id = ${id} AND ts = ${gone.ts} RETURNING device_id, metric, ts`;
        if (row) await recomputeMinute(tx, row.device_id, row.metric, Number(row.ts));
        await notify(tx);
        return true;
      });
    },
  };
}
