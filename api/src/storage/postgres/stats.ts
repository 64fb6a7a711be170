import type { SQL } from 'bun';
import type { Bucket } from '../minutes.ts';
import type { DevicePage, ReadingFilter, Stats } from '../port.ts';
import { POSTGRES_DIALECT, namedRaw, sqlRollupReader } from '../rollup-sql.ts';
import { type RollupReader, statsFromRollups } from '../rollup-stats.ts';

/**
 * The rollup reads of /stats on a pool; `walkReadingsPerDevice` as sqlRollupReader takes it
 * (tests force one way of finding devices).
 */
export function rollupReader(sql: SQL, walkReadingsPerDevice?: number): RollupReader {
  return sqlRollupReader(
    POSTGRES_DIALECT,
    async (text, params) =>
      (await sql.unsafe(namedRaw(text, POSTGRES_DIALECT.raw), params)) as Array<Record<string, unknown>>,
    walkReadingsPerDevice,
  );
}

/** /stats from the rollups (see ../rollup-stats.ts), on the pool of long reads. */
export function computeStats(
  sql: SQL,
  filter: ReadingFilter,
  threshold: number,
  devices: DevicePage,
  bucket?: Bucket,
): Promise<Stats> {
  return statsFromRollups(rollupReader(sql), filter, threshold, devices, bucket);
}
