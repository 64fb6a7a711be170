import type { SQL } from 'bun';
import type { Bucket } from '../minutes.ts';
import type { DevicePage, ReadingFilter, Stats } from '../port.ts';
import { POSTGRES_DIALECT, sqlRollupReader } from '../rollup-sql.ts';
import { statsFromRollups } from '../rollup-stats.ts';

/** /stats from the rollups (see ../rollup-stats.ts), on the pool of long reads. */
export function computeStats(sql: SQL, filter: ReadingFilter, threshold: number, devices: DevicePage, bucket?: Bucket): Promise<Stats> {
  const reader = sqlRollupReader(POSTGRES_DIALECT, async (text, params) => (await sql.unsafe(text, params)) as Array<Record<string, unknown>>);
  return statsFromRollups(reader, filter, threshold, devices, bucket);
}
