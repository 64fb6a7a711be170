import { and, asc, count, desc, eq, gt, lt, or } from 'drizzle-orm';
import { timedCheck } from '../check.ts';
import { type Conflict, type Cursor, type FeedRow, type ReadingsStore, type StoredRow, sameReading } from '../port.ts';
import { startCheckpointer } from './checkpointer.ts';
import { type Db, databasePath, openDatabase } from './client.ts';
import { whereFilter } from './filters.ts';
import { readings } from './schema.ts';
import { computeStats } from './stats.ts';

/** The change feed's columns: the rowid grows with every insert, so it is the feed's sequence. */
const FEED_COLUMNS = 'rowid AS seq, id, device_id AS deviceId, metric, value, unit, ts, stored_at AS storedAt';

/**
 * The embedded default: SQLite through bun:sqlite and Drizzle, one connection, WAL. Inserts are
 * `INSERT OR IGNORE` on the reading id, in one transaction per batch. Queries run synchronously
 * on the caller's thread; the methods are async only to speak the port.
 */
export function createSqliteStore(db: Db, options: { location?: string; checkpointPath?: string } = {}): ReadingsStore {
  const sqlite = db.$client;
  // The hot path: a raw prepared statement costs about a third of the CPU of the query builder.
  const insertOne = sqlite.prepare('INSERT OR IGNORE INTO readings (id, device_id, metric, value, unit, ts, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const storedById = sqlite.prepare('SELECT id, device_id AS deviceId, metric, value, unit, ts, stored_at AS storedAt FROM readings WHERE id = ?');
  const insertAll = sqlite.transaction((rows: readonly StoredRow[]) => {
    let inserted = 0;
    const conflicts: Conflict[] = [];
    for (const row of rows) {
      if (insertOne.run(row.id, row.deviceId, row.metric, row.value, row.unit, row.ts, row.storedAt).changes === 1) {
        inserted += 1;
        continue;
      }
      // Ignored: the same reading again (a duplicate), or the same id with other content.
      const stored = storedById.get(row.id) as StoredRow | null;
      if (stored && !sameReading(stored, row)) conflicts.push({ offered: row, stored });
    }
    return { inserted, duplicates: rows.length - inserted - conflicts.length, conflicts };
  });
  const latestFeed = sqlite.prepare(`SELECT ${FEED_COLUMNS} FROM readings ORDER BY rowid DESC LIMIT ?`);
  const feedAfter = sqlite.prepare(`SELECT ${FEED_COLUMNS} FROM readings WHERE rowid > ? ORDER BY rowid LIMIT ?`);
  const maxSeq = sqlite.prepare('SELECT coalesce(max(rowid), 0) AS seq FROM readings');
  // Checkpoints on a worker thread keep commits (and so lead times) free of them.
  const checkpointer = options.checkpointPath ? startCheckpointer(options.checkpointPath) : undefined;
  const listeners: Array<() => void> = [];
  const changed = () => {
    for (const listener of listeners) listener();
  };
  const byId = (id: string) => db.select().from(readings).where(eq(readings.id, id)).get();

  return {
    backend: 'sqlite',
    location: options.location ?? ':memory:',
    async insert(rows) {
      const outcome = insertAll(rows);
      if (outcome.inserted > 0) changed();
      return outcome;
    },
    async get(id) {
      return byId(id);
    },
    async patch(id, fields) {
      const row = db.update(readings).set(fields).where(eq(readings.id, id)).returning().get();
      if (row) changed();
      return row;
    },
    async remove(id) {
      const removed = db.delete(readings).where(eq(readings.id, id)).returning({ id: readings.id }).all().length > 0;
      if (removed) changed();
      return removed;
    },
    async page(filter, limit, after?: Cursor) {
      const afterCursor = after && or(lt(readings.ts, after.ts), and(eq(readings.ts, after.ts), lt(readings.id, after.id)));
      return db.select().from(readings).where(whereFilter(filter, afterCursor)).orderBy(desc(readings.ts), desc(readings.id)).limit(limit).all();
    },
    async chunk(filter, limit, after?: Cursor) {
      const afterCursor = after && or(gt(readings.ts, after.ts), and(eq(readings.ts, after.ts), gt(readings.id, after.id)));
      return db.select().from(readings).where(whereFilter(filter, afterCursor)).orderBy(asc(readings.ts), asc(readings.id)).limit(limit).all();
    },
    async stats(filter, threshold, devices) {
      return computeStats(db, filter, threshold, devices);
    },
    async count(filter) {
      return db.select({ n: count() }).from(readings).where(whereFilter(filter)).get()?.n ?? 0;
    },
    async changesAfter(seq, limit) {
      return feedAfter.all(seq, limit) as FeedRow[];
    },
    async recentChanges(limit) {
      return latestFeed.all(limit) as FeedRow[];
    },
    async lastSeq() {
      return (maxSeq.get() as { seq: number }).seq;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    check: () => timedCheck(() => sqlite.query('SELECT 1').get()),
    async close() {
      checkpointer?.stop();
      sqlite.close();
    },
  };
}

/** Opens (and migrates) the SQLite database at `databaseUrl`, as the API runs it. */
export function openSqliteStore(databaseUrl: string): ReadingsStore {
  const path = databasePath(databaseUrl);
  const onDisk = path !== ':memory:';
  const db = openDatabase(databaseUrl, { autocheckpointPages: onDisk ? 100_000 : 10_000 });
  return createSqliteStore(db, { location: path, checkpointPath: onDisk ? path : undefined });
}
