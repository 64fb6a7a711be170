import { and, asc, count, desc, eq, gt, gte, lt, lte, or, sql } from 'drizzle-orm';
import { storedId } from '../id-bytes.ts';
import type { Cursor, ReadingFilter, StoredRow } from '../port.ts';
import type { Db } from './client.ts';
import { withIdText } from './compact.ts';
import { whereFilter } from './filters.ts';
import { readings } from './schema.ts';

/** The view's columns for Drizzle's reads: the id as kept, made text by withIdText. */
const ROW = {
  id: sql<Uint8Array | string>`stored_id`,
  deviceId: readings.deviceId,
  metric: readings.metric,
  value: readings.value,
  unit: readings.unit,
  ts: readings.ts,
  storedAt: readings.storedAt,
};

// Pages are ordered by (ts, the id as kept): a canonical UUID's 16 bytes sort as its text does,
// and SQLite keeps texts before blobs; the cursor's id is turned into the same key.

/** Readings matching `filter`, oldest first, after the cursor: export and the bench's walks. */
export function oldestFirst(db: Db, filter: ReadingFilter, limit: number, after?: Cursor): StoredRow[] {
  const afterCursor =
    after &&
    and(
      gte(readings.ts, after.ts),
      or(gt(readings.ts, after.ts), and(eq(readings.ts, after.ts), sql`stored_id > ${storedId(after.id)}`)),
    );
  return db
    .select(ROW)
    .from(readings)
    .where(whereFilter(filter, afterCursor))
    .orderBy(asc(readings.ts), sql`stored_id`)
    .limit(limit)
    .all()
    .map(withIdText);
}

/** Readings matching `filter`, newest first, after the cursor: the listing's pages. */
export function newestFirst(db: Db, filter: ReadingFilter, limit: number, after?: Cursor): StoredRow[] {
  // The bound on ts alone is what SQLite turns into a range of the ts index; without it, it
  // read every row before the cursor (on 20M rows, 10 s a page deep into an export).
  const afterCursor =
    after &&
    and(
      lte(readings.ts, after.ts),
      or(lt(readings.ts, after.ts), and(eq(readings.ts, after.ts), sql`stored_id < ${storedId(after.id)}`)),
    );
  return db
    .select(ROW)
    .from(readings)
    .where(whereFilter(filter, afterCursor))
    .orderBy(desc(readings.ts), sql`stored_id DESC`)
    .limit(limit)
    .all()
    .map(withIdText);
}

export function countReadings(db: Db, filter: ReadingFilter): number {
  return db.select({ n: count() }).from(readings).where(whereFilter(filter)).get()?.n ?? 0;
}
