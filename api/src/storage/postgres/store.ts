import { SQL } from 'bun';
import { timedCheck } from '../check.ts';
import { exportChunk, jsonBytes } from '../export-text.ts';
import {
  type Conflict,
  type Cursor,
  type FeedRow,
  type ReadingFilter,
  type ReadingsStore,
  StorageUnavailableError,
  type StoredRow,
  sameReading,
} from '../port.ts';
import { acknowledgeAlert, alertPage, insertAlerts, removeAlertsBefore } from './alerts.ts';
import { guarded } from './errors.ts';
import { whereFilter } from './filters.ts';
import { migrate } from './migrate.ts';
import { DAY_MS, createPartitions } from './partitions.ts';
import { HOUR_MINUTES, MINUTE_MS } from '../rollups.ts';

const HOUR_MS = HOUR_MINUTES * MINUTE_MS;
import { INSERT_LOCK, compact, rebuild, recomputeMinute, removeRollupsBefore } from './rollups.ts';
import { computeStats } from './stats.ts';

/** Every instance LISTENs here; each committed change NOTIFYs it. */
const CHANGES_CHANNEL = 'telemetry_readings_changed';

export interface PostgresStoreOptions {
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** A statement running longer is cancelled (→ 503). Default 30,000 ms. */
  statementTimeoutMs?: number;
  /** Connections of the separate pool for long reads (listings, exports, statistics). Default 2. */
  readers?: number;
  /** SQLite only: how many nice levels below the writer its reader threads run (Linux). Default 10. */
  readerNice?: number;
}

interface Row {
  seq?: string | number;
  id: string;
  device_id: string;
  metric: string;
  value: number;
  unit: string;
  ts: string | number;
  stored_at: string | number;
}

// bigint columns arrive as strings; epoch milliseconds fit a double exactly.
const toStored = (row: Row): StoredRow => ({
  id: row.id,
  deviceId: row.device_id,
  metric: row.metric,
  value: row.value,
  unit: row.unit,
  ts: Number(row.ts),
  storedAt: Number(row.stored_at),
});
const toFeed = (row: Row): FeedRow => ({ ...toStored(row), seq: Number(row.seq) });

/** `postgres://user@host:port/db`, never the password. */
export function describeUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Device ids an instance remembers as stored at most (a hostile client could send any number). */
const MAX_KNOWN_DEVICES = 100_000;

/**
 * PostgreSQL through Bun's built-in client (Bun.sql): pooled connections, LISTEN/NOTIFY, no
 * dependency. Readings live in daily range partitions; ids are made unique by reading_ids; a
 * batch is one statement over `unnest` arrays. Every instance hears every other's changes
 * (NOTIFY), so live feeds and caches stay right with any number of API instances.
 */
export async function openPostgresStore(
  databaseUrl: string,
  options: PostgresStoreOptions = {},
): Promise<ReadingsStore> {
  const { poolSize = 10, statementTimeoutMs = 30_000, readers = 2 } = options;
  // JIT off: every statement here is planned to run in milliseconds, but over a large history the
  // planner's cost estimates (a subquery per row, repeated for every daily partition) pass JIT's
  // threshold and PostgreSQL spent 150–1,500 ms compiling a statement that then ran in 20 ms
  // (history bench, 20M readings: /stats over 1 h ~200 → ~30 ms; compacting an hour 1.3 → 0.08 s).
  const connection = { statement_timeout: String(statementTimeoutMs), jit: 'off' };
  const sql = new SQL(databaseUrl, { max: poolSize, connectionTimeout: 10, connection });
  // Long reads have a pool of their own: however many run, writes and the feed find a connection.
  const reads = new SQL(databaseUrl, { max: readers, connectionTimeout: 10, connection });
  try {
    await sql`SELECT 1`;
  } catch (error) {
    await Promise.all([sql.close(), reads.close()]).catch(() => {});
    throw new StorageUnavailableError(
      `cannot reach PostgreSQL at ${describeUrl(databaseUrl)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  await migrate(sql);
  const partitions = createPartitions(sql);
  await partitions.ensureAhead();
  // New days get their partition before their first reading, without waiting for a batch.
  const ahead = setInterval(() => void partitions.ensureAhead().catch(() => {}), 60 * 60 * 1_000);

  // Device ids this instance knows are in `devices`: a cache, so bounded (cleared when full).
  const knownDevices = new Set<string>();
  const listeners: Array<() => void> = [];
  const changed = () => {
    for (const listener of listeners) listener();
  };
  // Other instances' changes. Our own arrive too; listeners are idempotent (a cache bump, a poll).
  const subscription = await sql.listen(CHANGES_CHANNEL, changed);
  /** Oldest first by (ts, id), after the cursor, on the read pool: what an export walks. */
  const oldestFirst = (filter: ReadingFilter, limit: number, after?: Cursor) =>
    guarded(async () => {
      const where = whereFilter(reads, filter);
      const rows = after
        ? await reads`SELECT * FROM readings WHERE ${where} AND (ts, id) > (${after.ts}, ${after.id}) ORDER BY ts, id LIMIT ${limit}`
        : await reads`SELECT * FROM readings WHERE ${where} ORDER BY ts, id LIMIT ${limit}`;
      return rows.map(toStored);
    });
  /** Newest first by (ts, id), after the cursor, on the given pool. */
  const newestFirst = (pool: SQL, filter: ReadingFilter, limit: number, after?: Cursor) =>
    guarded(async () => {
      const where = whereFilter(pool, filter);
      const rows = after
        ? await pool`SELECT * FROM readings WHERE ${where} AND (ts, id) < (${after.ts}, ${after.id}) ORDER BY ts DESC, id DESC LIMIT ${limit}`
        : await pool`SELECT * FROM readings WHERE ${where} ORDER BY ts DESC, id DESC LIMIT ${limit}`;
      return rows.map(toStored);
    });
  /** Tells every instance (this one too) of a change; on a transaction, it goes out at commit. */
  const notify = (on: SQL) => on`SELECT pg_notify(${CHANGES_CHANNEL}, '')`;

  return {
    backend: 'postgres',
    location: describeUrl(databaseUrl),
    diskBytes: () =>
      guarded(async () => {
        const [row] = await sql`SELECT pg_database_size(current_database())::bigint AS bytes`;
        return { data: Number(row?.bytes ?? 0), wal: 0 };
      }),
    identity: () =>
      guarded(async () => {
        const [database] = await sql`SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()`;
        // The cluster's identifier tells a re-initialized server (whose first database gets the same oid); it may need a grant.
        const system = await sql`SELECT system_identifier::text AS id FROM pg_control_system()`.then(
          (rows) => rows[0]?.id as string,
          () => 'unknown',
        );
        return `postgres:${system}:${database?.oid as string}`;
      }),

    insert: (rows) =>
      guarded(async () => {
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
        if (inserted > 0) changed();
        return { inserted, duplicates: rows.length - inserted - conflicts.length, conflicts };
      }),

    get: (id) =>
      guarded(async () => {
        const [row] =
          await sql`SELECT r.* FROM reading_ids i JOIN readings r ON r.ts = i.ts AND r.id = i.id WHERE i.id = ${id}`;
        return row ? toStored(row) : undefined;
      }),

    // A changed or removed reading's minute is rolled up again from its rows (with its old metric
    // and, when that changed, its new one), under the insert lock: no batch adds to it meanwhile.
    patch: (id, fields) =>
      guarded(async () => {
        const row = await sql.begin(async (tx) => {
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
        if (row) changed();
        return row;
      }),

    remove: (id) =>
      guarded(async () => {
        const removed = await sql.begin(async (tx) => {
          await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
          const [gone] = await tx`DELETE FROM reading_ids WHERE id = ${id} RETURNING ts`;
          if (!gone) return false;
          const [row] =
            await tx`DELETE FROM readings WHERE id = ${id} AND ts = ${gone.ts} RETURNING device_id, metric, ts`;
          if (row) await recomputeMinute(tx, row.device_id, row.metric, Number(row.ts));
          await notify(tx);
          return true;
        });
        if (removed) changed();
        return removed;
      }),

    page: (filter, limit, after?: Cursor) => newestFirst(reads, filter, limit, after),

    // Short by the index: on the main pool, so it never waits behind long reads.
    latest: (limit) => newestFirst(sql, {}, limit),

    chunk: oldestFirst,
    exportChunk: async (filter, limit, after, format) => exportChunk(await oldestFirst(filter, limit, after), format),

    stats: (filter, threshold, devices, bucket) =>
      guarded(() => computeStats(reads, filter, threshold, devices, bucket)),
    statsJson: async (filter, threshold, devices, bucket) =>
      jsonBytes(await guarded(() => computeStats(reads, filter, threshold, devices, bucket))),
    compactRollups: (beforeMs, limit, thresholds = []) =>
      guarded(() => compact(sql, Math.floor(beforeMs / HOUR_MS), limit, thresholds)),
    rebuildRollups: (thresholds = []) => guarded(() => rebuild(sql, thresholds)),
    removeRollupsBefore: (beforeMs, limit) =>
      guarded(() => removeRollupsBefore(sql, Math.floor(beforeMs / MINUTE_MS), limit)),

    count: (filter) =>
      guarded(async () => {
        const [{ n }] = await reads`SELECT count(*)::float8 AS n FROM readings WHERE ${whereFilter(reads, filter)}`;
        return n as number;
      }),

    changesAfter: (seq, limit) =>
      guarded(async () =>
        (await sql`SELECT * FROM readings WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`).map(toFeed),
      ),

    recentChanges: (limit) =>
      guarded(async () => (await sql`SELECT * FROM readings ORDER BY seq DESC LIMIT ${limit}`).map(toFeed)),

    lastSeq: () =>
      guarded(async () => {
        const [{ seq }] = await sql`SELECT coalesce(max(seq), 0)::float8 AS seq FROM readings`;
        return seq as number;
      }),

    removeReadingsBefore: (beforeMs, limit) =>
      guarded(async () => {
        // A day wholly before the bound: its ids first (a chunk a step), then the partition itself.
        const [day] = (await partitions.days()).filter((d) => (d + 1) * DAY_MS <= beforeMs);
        if (day !== undefined) {
          const result =
            await sql`DELETE FROM reading_ids WHERE id IN (SELECT id FROM reading_ids WHERE ts >= ${day * DAY_MS} AND ts < ${(day + 1) * DAY_MS} LIMIT ${limit})`;
          if (result.count === 0) await partitions.drop(day);
          return { removed: result.count, done: false };
        }
        // The day the bound falls in: row by row, a chunk a step.
        const result = await sql`
          WITH gone AS (DELETE FROM reading_ids WHERE id IN (SELECT id FROM reading_ids WHERE ts < ${beforeMs} LIMIT ${limit}) RETURNING id, ts)
          DELETE FROM readings r USING gone WHERE r.id = gone.id AND r.ts = gone.ts`;
        return { removed: result.count, done: result.count < limit };
      }),
    oldestReadingTs: () =>
      guarded(async () => {
        const [{ ts }] = await sql`SELECT min(ts)::float8 AS ts FROM readings`;
        return ts === null ? null : Number(ts);
      }),
    // Dropped partitions give their files back; deleted rows' space is reused (autovacuum).
    reclaimSpace: async () => false,

    insertAlerts: (rows) => guarded(() => insertAlerts(sql, rows)),
    acknowledgeAlert: (id, ack) => guarded(() => acknowledgeAlert(sql, id, ack)),
    alerts: (filter, limit, after) => guarded(() => alertPage(reads, filter, limit, after)),
    removeAlertsBefore: (beforeMs, limit) => guarded(() => removeAlertsBefore(sql, beforeMs, limit)),

    onChange(listener) {
      listeners.push(listener);
    },

    check: () => timedCheck(() => sql`SELECT 1`),

    async close() {
      clearInterval(ahead);
      await subscription.unlisten().catch(() => {});
      await Promise.all([sql.close({ timeout: 5 }), reads.close({ timeout: 5 })]);
    },
  };
}
