import type { SQL } from 'bun';
import type { Cursor, FeedRow, ReadingFilter, StoredRow } from '../port.ts';
import { whereFilter } from './filters.ts';
import { toFeed, toStored } from './rows.ts';

/** Oldest first by (ts, id), after the cursor: what an export walks. */
export async function oldestFirst(
  pool: SQL,
  filter: ReadingFilter,
  limit: number,
  after?: Cursor,
): Promise<StoredRow[]> {
  const where = whereFilter(pool, filter);
  const rows = after
    ? await pool`SELECT * FROM readings WHERE ${where} AND (ts, id) > (${after.ts}, ${after.id}) ORDER BY ts, id LIMIT ${limit}`
    : await pool`SELECT * FROM readings WHERE ${where} ORDER BY ts, id LIMIT ${limit}`;
  return rows.map(toStored);
}

/** Newest first by (ts, id), after the cursor: the listing's pages. */
export async function newestFirst(
  pool: SQL,
  filter: ReadingFilter,
  limit: number,
  after?: Cursor,
): Promise<StoredRow[]> {
  const where = whereFilter(pool, filter);
  const rows = after
    ? await pool`SELECT * FROM readings WHERE ${where} AND (ts, id) < (${after.ts}, ${after.id}) ORDER BY ts DESC, id DESC LIMIT ${limit}`
    : await pool`SELECT * FROM readings WHERE ${where} ORDER BY ts DESC, id DESC LIMIT ${limit}`;
  return rows.map(toStored);
}

/** One reading by id: its day found through reading_ids, then its row in that day's partition. */
export async function readingById(pool: SQL, id: string): Promise<StoredRow | undefined> {
  const [row] =
    await pool`SELECT r.* FROM reading_ids i JOIN readings r ON r.ts = i.ts AND r.id = i.id WHERE i.id = ${id}`;
  return row ? toStored(row) : undefined;
}

export async function countReadings(pool: SQL, filter: ReadingFilter): Promise<number> {
  const [{ n }] = await pool`SELECT count(*)::float8 AS n FROM readings WHERE ${whereFilter(pool, filter)}`;
  return n as number;
}

/** The change feed: readings stored after `seq`, in the order they were. */
export async function changesAfter(pool: SQL, seq: number, limit: number): Promise<FeedRow[]> {
  return (await pool`SELECT * FROM readings WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`).map(toFeed);
}

export async function recentChanges(pool: SQL, limit: number): Promise<FeedRow[]> {
  return (await pool`SELECT * FROM readings ORDER BY seq DESC LIMIT ${limit}`).map(toFeed);
}

export async function lastSeq(pool: SQL): Promise<number> {
  const [{ seq }] = await pool`SELECT coalesce(max(seq), 0)::float8 AS seq FROM readings`;
  return seq as number;
}

export async function oldestReadingTs(pool: SQL): Promise<number | null> {
  const [{ ts }] = await pool`SELECT min(ts)::float8 AS ts FROM readings`;
  return ts === null ? null : Number(ts);
}
