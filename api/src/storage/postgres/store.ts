import { SQL } from 'bun';
import { timedCheck } from '../check.ts';
import { exportChunk, jsonBytes } from '../export-text.ts';
import { type Cursor, type ReadingFilter, type ReadingsStore, StorageUnavailableError } from '../port.ts';
import { HOUR_MINUTES, MINUTE_MS } from '../rollups.ts';
import { acknowledgeAlert, alertPage, insertAlerts, removeAlertsBefore } from './alerts.ts';
import { guarded } from './errors.ts';
import { migrate } from './migrate.ts';
import { createPartitions } from './partitions.ts';
import {
  changesAfter,
  countReadings,
  lastSeq,
  newestFirst,
  oldestFirst,
  oldestReadingTs,
  readingById,
  recentChanges,
} from './reading-reads.ts';
import { readingWrites } from './reading-writes.ts';
import { removeReadingsBefore } from './retention.ts';
import { compact, rebuild, removeRollupsBefore } from './rollups.ts';
import { computeStats } from './stats.ts';

const HOUR_MS = HOUR_MINUTES * MINUTE_MS;

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

/** `postgres://user@host:port/db`, never the password. */
export function describeUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * PostgreSQL through Bun's built-in client (Bun.sql): pooled connections, LISTEN/NOTIFY, no
 * dependency. Readings live in daily range partitions; ids are made unique by reading_ids; a
 * batch is one statement over `unnest` arrays. Every instance hears every other's changes
 * (NOTIFY), so live feeds and caches stay right with any number of API instances. Built of
 * parts: reading writes (reading-writes.ts), reading reads (reading-reads.ts), retention,
 * rollups, alerts and stats, each a module of its own over the two pools opened here.
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

  const listeners: Array<() => void> = [];
  const changed = () => {
    for (const listener of listeners) listener();
  };
  // Other instances' changes. Our own arrive too; listeners are idempotent (a cache bump, a poll).
  const subscription = await sql.listen(CHANGES_CHANNEL, changed);
  /** Tells every instance (this one too) of a change; on a transaction, it goes out at commit. */
  const notify = (on: SQL) => on`SELECT pg_notify(${CHANGES_CHANNEL}, '')`;
  const writes = readingWrites(sql, partitions, notify);
  const exported = (filter: ReadingFilter, limit: number, after?: Cursor) =>
    guarded(() => oldestFirst(reads, filter, limit, after));

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
        const outcome = await writes.insert(rows);
        if (outcome.inserted > 0) changed();
        return outcome;
      }),

    get: (id) => guarded(() => readingById(sql, id)),

    patch: (id, fields) =>
      guarded(async () => {
        const row = await writes.patch(id, fields);
        if (row) changed();
        return row;
      }),

    remove: (id) =>
      guarded(async () => {
        const removed = await writes.remove(id);
        if (removed) changed();
        return removed;
      }),

    page: (filter, limit, after?: Cursor) => guarded(() => newestFirst(reads, filter, limit, after)),

    // Short by the index: on the main pool, so it never waits behind long reads.
    latest: (limit) => guarded(() => newestFirst(sql, {}, limit)),

    chunk: exported,
    exportChunk: async (filter, limit, after, format) => exportChunk(await exported(filter, limit, after), format),

    stats: (filter, threshold, devices, bucket) =>
      guarded(() => computeStats(reads, filter, threshold, devices, bucket)),
    statsJson: async (filter, threshold, devices, bucket) =>
      jsonBytes(await guarded(() => computeStats(reads, filter, threshold, devices, bucket))),
    compactRollups: (beforeMs, limit, thresholds = []) =>
      guarded(() => compact(sql, Math.floor(beforeMs / HOUR_MS), limit, thresholds)),
    rebuildRollups: (thresholds = []) => guarded(() => rebuild(sql, thresholds)),
    removeRollupsBefore: (beforeMs, limit) =>
      guarded(() => removeRollupsBefore(sql, Math.floor(beforeMs / MINUTE_MS), limit)),

    count: (filter) => guarded(() => countReadings(reads, filter)),
    changesAfter: (seq, limit) => guarded(() => changesAfter(sql, seq, limit)),
    recentChanges: (limit) => guarded(() => recentChanges(sql, limit)),
    lastSeq: () => guarded(() => lastSeq(sql)),

    removeReadingsBefore: (beforeMs, limit) => guarded(() => removeReadingsBefore(sql, partitions, beforeMs, limit)),
    oldestReadingTs: () => guarded(() => oldestReadingTs(sql)),
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
