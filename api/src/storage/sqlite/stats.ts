import type { Database } from 'bun:sqlite';
import { type Param, type RawRange, SQLITE_DIALECT, namedRaw, sqlRollupReader } from '../rollup-sql.ts';
import type { RollupReader } from '../rollup-stats.ts';
import { MINUTE_MS } from '../rollups.ts';
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
        // The minutes /stats opens (read from rollups only, so from rows alone), and the hours and
        // days it counts from raw readings where no minute rows are kept: each a range.
        const spans = all(namedRaw(opened.sql, SQLITE_DIALECT.raw), opened.params) as Array<{
          device_id: string;
          metric: string;
          start_minute: number;
          minutes: number;
        }>;
        return [
          ...raw.ranges,
          ...spans.map((span) => ({
            deviceId: span.device_id,
            metric: span.metric,
            fromMs: span.start_minute * MINUTE_MS,
            toMs: (span.start_minute + span.minutes) * MINUTE_MS,
          })),
        ];
      };
      return cold.read(ranges, (names) => all(namedRaw(text, names), params));
    },
    walkReadingsPerDevice,
  );
}
