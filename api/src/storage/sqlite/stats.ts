import type { Database } from 'bun:sqlite';
import { SQLITE_DIALECT, sqlRollupReader } from '../rollup-sql.ts';
import type { RollupReader } from '../rollup-stats.ts';

/**
 * The rollup reads of /stats (see ../rollup-stats.ts) on this thread's connection;
 * `walkReadingsPerDevice` as sqlRollupReader takes it (tests force one way of finding devices).
 */
export function rollupReader(sqlite: Database, walkReadingsPerDevice?: number): RollupReader {
  return sqlRollupReader(
    SQLITE_DIALECT,
    async (sql, params) => sqlite.query(sql).all(...params) as Array<Record<string, unknown>>,
    walkReadingsPerDevice,
  );
}
