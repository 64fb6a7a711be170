import type { Database } from 'bun:sqlite';
import type { Bucket } from '../minutes.ts';
import type { DevicePage, ReadingFilter, Stats } from '../port.ts';
import { SQLITE_DIALECT, sqlRollupReader } from '../rollup-sql.ts';
import { type RollupReader, type StatsDevicePart, type StatsSummaryPart, statsDevices, statsFromRollups, statsSummary } from '../rollup-stats.ts';

/** The rollup reads of /stats on this thread's connection. */
function rollupReader(sqlite: Database): RollupReader {
  return sqlRollupReader(SQLITE_DIALECT, async (sql, params) => sqlite.query(sql).all(...params) as Array<Record<string, unknown>>);
}

/** /stats from the rollups (see ../rollup-stats.ts), on this thread's connection. */
export function computeStats(sqlite: Database, filter: ReadingFilter, threshold: number, devices: DevicePage, bucket?: Bucket): Promise<Stats> {
  return statsFromRollups(rollupReader(sqlite), filter, threshold, devices, bucket);
}

/** /stats but its devices: half of it, for one reader thread while another works out the other half. */
export function computeStatsSummary(sqlite: Database, filter: ReadingFilter, threshold: number, bucket?: Bucket): Promise<StatsSummaryPart> {
  return statsSummary(rollupReader(sqlite), filter, threshold, bucket);
}

/** /stats's page of devices: the other half. */
export function computeStatsDevices(sqlite: Database, filter: ReadingFilter, threshold: number, devices: DevicePage): Promise<StatsDevicePart> {
  return statsDevices(rollupReader(sqlite), filter, threshold, devices);
}
