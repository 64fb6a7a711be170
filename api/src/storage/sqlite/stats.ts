import type { Database } from 'bun:sqlite';
import { type Param, type RawRange, SQLITE_DIALECT, namedRaw, sqlRollupReader } from '../rollup-sql.ts';
import type { RollupReader } from '../rollup-stats.ts';
import { coldViewOf } from './cold-view.ts';

/**
 * The rollup reads of /stats (see ../rollup-stats.ts) on this thread's connection, raw readings
 * read from rows and compressed chunks alike (cold-view.ts); `walkReadingsPerDevice` as
 * sqlRollupReader takes it (tests force one way of finding devices).
 */
export function rollupReader(sqlite: Database, walkReadingsPerDevice?: number): RollupReader {
  const cold = coldViewOf(sqlite);
  const all = (text: string, params: Param[]) => sqlite.query(text).all(...params) as Array<Record<string, unknown>>;
  return sqlRollupReader(
    SQLITE_DIALECT,
    async (text, params, raw) => {
      if (!raw) return all(text, params);
      const opened = raw.opened;
      const ranges = (): RawRange[] => {
        if (!opened || !cold.holdsAny(opened.window)) return raw.ranges;
        // The minutes /stats opens (read from rollups only, so from rows alone): each a range.
        const minutes = all(namedRaw(opened.sql, SQLITE_DIALECT.raw), opened.params) as Array<{
          device_id: string;
          metric: string;
          start_minute: number;
        }>;
        return [
          ...raw.ranges,
          ...minutes.map((minute) => ({
            deviceId: minute.device_id,
            metric: minute.metric,
            fromMs: minute.start_minute * 60_000,
            toMs: (minute.start_minute + 1) * 60_000,
          })),
        ];
      };
      return cold.read(ranges, (names) => all(namedRaw(text, names), params));
    },
    walkReadingsPerDevice,
  );
}
