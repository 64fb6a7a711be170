import type { Database } from 'bun:sqlite';
import type { Bucket } from '../minutes.ts';
import type { DevicePage, ReadingFilter, Stats } from '../port.ts';
import { SQLITE_DIALECT, sqlRollupReader } from '../rollup-sql.ts';
import { statsFromRollups } from '../rollup-stats.ts';

/** /stats from the rollups (see ../rollup-stats.ts), on this thread's connection. */
export function computeStats(sqlite: Database, filter: ReadingFilter, threshold: number, devices: DevicePage, bucket?: Bucket): Promise<Stats> {
  const reader = sqlRollupReader(SQLITE_DIALECT, async (sql, params) => sqlite.query(sql).all(...params) as Array<Record<string, unknown>>);
  return statsFromRollups(reader, filter, threshold, devices, bucket);
}
