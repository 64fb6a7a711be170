import type { Database } from 'bun:sqlite';
import { type RawNames, type RawRange, SQLITE_DIALECT } from '../rollup-sql.ts';
import { chunkStatements } from './chunk-store.ts';
import { DAY_MS } from './kept-ids.ts';

const ROWS_ONLY: RawNames = SQLITE_DIALECT.raw;
const WITH_COLD: RawNames = { readings: 'temp.raw_readings', rows: 'temp.raw_rows' };

/**
 * Compressed readings made visible to SQL for one statement. A statement that reads raw readings
 * — /stats' partial minutes and the minutes it opens, a most frequent value, compaction deriving
 * an hour again — names them through `RawNames`: where no chunk holds readings of its windows,
 * the tables of rows as ever; else the connection's temporary `cold_rows` is filled with the
 * chunks' readings of those windows (decoded chunks are kept, see chunk-store.ts) and the
 * statement reads views of rows and those together. One transaction holds both, so a compaction
 * committing in between cannot make a reading seen twice or not at all.
 */
export function coldView(sqlite: Database, chunks = chunkStatements(sqlite)) {
  let created = false;
  const create = () => {
    if (created) return;
    // The temporary schema is this connection's own: a reader with query_only may write it.
    withWrites(sqlite, () => {
      sqlite.run(`CREATE TEMP TABLE IF NOT EXISTS cold_rows (
        device_id TEXT NOT NULL, metric TEXT NOT NULL, metric_key INTEGER NOT NULL, value REAL NOT NULL, ts INTEGER NOT NULL)`);
      sqlite.run('CREATE INDEX IF NOT EXISTS temp.cold_rows_ts ON cold_rows (ts)');
      sqlite.run('CREATE INDEX IF NOT EXISTS temp.cold_rows_device_ts ON cold_rows (device_id, ts)');
      sqlite.run(`CREATE TEMP VIEW IF NOT EXISTS raw_readings AS
        SELECT device_id, metric, value, ts FROM main.readings
        UNION ALL SELECT device_id, metric, value, ts FROM temp.cold_rows`);
      sqlite.run(`CREATE TEMP VIEW IF NOT EXISTS raw_rows AS
        SELECT metric, value, ts FROM main.reading_rows
        UNION ALL SELECT metric_key AS metric, value, ts FROM temp.cold_rows`);
    });
    created = true;
  };
  const anyChunk = sqlite.prepare('SELECT 1 AS found FROM reading_chunks WHERE day >= ? AND day <= ? LIMIT 1');
  const keyOf = sqlite.prepare('SELECT key FROM names WHERE name = ?');
  let insert: ReturnType<Database['prepare']> | undefined;
  let clear: ReturnType<Database['prepare']> | undefined;

  const days = (range: RawRange) => [Math.floor(range.fromMs / DAY_MS), Math.floor((range.toMs - 1) / DAY_MS)] as const;
  /** Whether any chunk holds readings of days the range touches. */
  const holdsAny = (range: RawRange) => range.toMs > range.fromMs && anyChunk.get(...days(range)) !== null;
  /** Fills `cold_rows` with the chunks' readings of `ranges`; whether there were any. */
  const load = (ranges: readonly RawRange[]): boolean => {
    if (!ranges.some(holdsAny)) return false;
    create();
    insert ??= sqlite.prepare(
      'INSERT INTO temp.cold_rows (device_id, metric, metric_key, value, ts) VALUES (?, ?, ?, ?, ?)',
    );
    clear ??= sqlite.prepare('DELETE FROM temp.cold_rows');
    withWrites(sqlite, () => {
      (clear as ReturnType<Database['prepare']>).run();
      // A reading in two overlapping ranges is loaded once: each chunk's readings once, each
      // reading when any range holds it.
      const seen = new Set<number>();
      for (const range of ranges) {
        if (range.toMs <= range.fromMs) continue;
        for (const head of chunks.headsOf(range, ...days(range), 'ASC')) {
          if (seen.has(head.chunk)) continue;
          seen.add(head.chunk);
          const metricKey = (keyOf.get(head.metric) as { key: number }).key;
          for (const reading of chunks.readingsOf(head)) {
            if (!ranges.some((held) => holds(held, head.deviceId, head.metric, reading.ts))) continue;
            (insert as ReturnType<Database['prepare']>).run(
              head.deviceId,
              head.metric,
              metricKey,
              reading.value,
              reading.ts,
            );
          }
        }
      }
    });
    return true;
  };

  return {
    holdsAny,
    /**
     * Runs `read` with the names to read raw readings of `ranges` by — both tiers' — in one
     * transaction with the loading.
     */
    read<T>(ranges: readonly RawRange[] | (() => readonly RawRange[]), read: (names: RawNames) => T): T {
      return snapshot(() => read(load(typeof ranges === 'function' ? ranges() : ranges) ? WITH_COLD : ROWS_ONLY));
    },
  };

  function snapshot<T>(body: () => T): T {
    if (sqlite.inTransaction) return body();
    sqlite.run('BEGIN');
    try {
      const result = body();
      sqlite.run('COMMIT');
      return result;
    } catch (error) {
      sqlite.run('ROLLBACK');
      throw error;
    }
  }
}

function holds(range: RawRange, deviceId: string, metric: string, ts: number): boolean {
  return (
    ts >= range.fromMs &&
    ts < range.toMs &&
    (range.deviceId === undefined || range.deviceId === deviceId) &&
    (range.metric === undefined || range.metric === metric)
  );
}

/** Runs `write` (of temporary tables only) on a connection that may be query_only. */
function withWrites(sqlite: Database, write: () => void): void {
  const { query_only: was } = sqlite.query('PRAGMA query_only').get() as { query_only: number };
  if (was) sqlite.run('PRAGMA query_only = OFF');
  try {
    write();
  } finally {
    if (was) sqlite.run('PRAGMA query_only = ON');
  }
}

export type ColdView = ReturnType<typeof coldView>;

const views = new WeakMap<Database, ColdView>();

/** The connection's one cold view (made with its chunk statements, or new ones, the first time). */
export function coldViewOf(sqlite: Database, chunks?: ReturnType<typeof chunkStatements>): ColdView {
  let view = views.get(sqlite);
  if (!view) {
    view = coldView(sqlite, chunks);
    views.set(sqlite, view);
  }
  return view;
}
