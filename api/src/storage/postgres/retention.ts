import type { SQL } from 'bun';
import { DAY_MS, type createPartitions } from './partitions.ts';

/**
 * One step of raw retention: readings measured before `beforeMs`, at most `limit` of them. A day
 * wholly before the bound loses its ids first (a chunk a step), then the partition itself; the
 * day the bound falls in is thinned row by row.
 */
export async function removeReadingsBefore(
  sql: SQL,
  partitions: ReturnType<typeof createPartitions>,
  beforeMs: number,
  limit: number,
): Promise<{ removed: number; done: boolean }> {
  const [day] = (await partitions.days()).filter((d) => (d + 1) * DAY_MS <= beforeMs);
  if (day !== undefined) {
    const result =
      await sql`DELETE FROM reading_ids WHERE id IN (SELECT id FROM reading_ids WHERE ts >= ${day * DAY_MS} AND ts < ${(day + 1) * DAY_MS} LIMIT ${limit})`;
    if (result.count === 0) await partitions.drop(day);
    return { removed: result.count, done: false };
  }
  const result = await sql`
    WITH gone AS (DELETE FROM reading_ids WHERE id IN (SELECT id FROM reading_ids WHERE ts < ${beforeMs} LIMIT ${limit}) RETURNING id, ts)
    DELETE FROM readings r USING gone WHERE r.id = gone.id AND r.ts = gone.ts`;
  return { removed: result.count, done: result.count < limit };
}
