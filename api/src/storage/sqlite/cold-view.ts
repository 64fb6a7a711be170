import type { Database, Statement } from 'bun:sqlite';
import { type RawNames, type RawRange, SQLITE_DIALECT } from '../rollup-sql.ts';
import { type ChunkHead, chunkStatements } from './chunk-store.ts';
import { DAY_MS } from './kept-ids.ts';

const ROWS_ONLY: RawNames = SQLITE_DIALECT.raw;
/** Compressed readings a connection keeps loaded for SQL, at most (more when one statement needs them). */
const MAX_LOADED_ROWS = 1_000_000;
const WITH_COLD: RawNames = { readings: 'temp.raw_readings', rows: 'temp.raw_rows' };

/**
 * Compressed readings made visible to SQL. A statement that reads raw readings — /stats' partial
 * minutes and the minutes it opens, a most frequent value, compaction deriving an hour again —
 * names them through `RawNames` and declares the windows it reads: where no chunk holds readings
 * of those, the tables of rows as ever; else the connection's temporary `cold_rows` is made to
 * hold the chunks of those windows, whole, as they are now (kept from statement to statement
 * while they stay the same version) and the statement reads views of rows and those together,
 * within its windows. One transaction holds the loading and the statement, so a compaction
 * committing in between cannot make a reading seen twice or not at all.
 */
export function coldView(sqlite: Database, chunks = chunkStatements(sqlite)) {
  const create = () => {
    // The temporary schema is this connection's own: a reader with query_only may write it.
    withWrites(sqlite, () => {
      sqlite.run(`CREATE TEMP TABLE IF NOT EXISTS cold_rows (chunk INTEGER NOT NULL,
        device_id TEXT NOT NULL, metric TEXT NOT NULL, metric_key INTEGER NOT NULL, value REAL NOT NULL, ts INTEGER NOT NULL)`);
      sqlite.run('CREATE INDEX IF NOT EXISTS temp.cold_rows_ts ON cold_rows (ts)');
      sqlite.run('CREATE INDEX IF NOT EXISTS temp.cold_rows_device_ts ON cold_rows (device_id, ts)');
      sqlite.run('CREATE INDEX IF NOT EXISTS temp.cold_rows_chunk ON cold_rows (chunk)');
      // Which loading the table holds: a transaction rolled back takes its loading with it.
      sqlite.run('CREATE TEMP TABLE IF NOT EXISTS cold_loads (generation INTEGER NOT NULL)');
      sqlite.run('INSERT INTO temp.cold_loads (generation) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM temp.cold_loads)');
      sqlite.run(`CREATE TEMP VIEW IF NOT EXISTS raw_readings AS
        SELECT device_id, metric, value, ts FROM main.readings
        UNION ALL SELECT device_id, metric, value, ts FROM temp.cold_rows`);
      sqlite.run(`CREATE TEMP VIEW IF NOT EXISTS raw_rows AS
        SELECT metric, value, ts FROM main.reading_rows
        UNION ALL SELECT metric_key AS metric, value, ts FROM temp.cold_rows`);
    });
  };
  const anyChunk = sqlite.prepare('SELECT 1 AS found FROM reading_chunks WHERE day >= ? AND day <= ? LIMIT 1');
  // Made in a transaction that was then rolled back, the temporary schema is gone with it.
  const schemaHeld = sqlite.prepare("SELECT 1 AS found FROM sqlite_temp_master WHERE name = 'cold_loads'");
  let insert: Statement | undefined;
  let dropChunk: Statement | undefined;
  let clear: Statement | undefined;

  /** Whether any chunk holds readings of days the range touches. */
  const holdsAny = (range: RawRange) => range.toMs > range.fromMs && anyChunk.get(...daysOf(range)) !== null;

  // Whole chunks are loaded, and kept while they stay the version they were (a statement reads
  // only its own windows of them): the same /stats asked again loads nothing.
  const loaded = new Map<number, ChunkHead>();
  let loadedRows = 0;
  let generation = 0;
  let generationOf: Statement | undefined;
  let setGeneration: Statement | undefined;
  /** Nothing held any more (the table emptied too, unless it was just made). */
  const forgetAll = (emptyTable: boolean) => {
    if (emptyTable) (clear as Statement).run();
    loaded.clear();
    loadedRows = 0;
  };
  const forget = (chunk: number) => {
    (dropChunk as Statement).run(chunk);
    loadedRows -= (loaded.get(chunk) as ChunkHead).count;
    loaded.delete(chunk);
  };
  /** Makes `cold_rows` hold the chunks of `ranges` as they are now; whether there are any. */
  const load = (ranges: readonly RawRange[]): boolean => {
    if (!ranges.some(holdsAny)) return false;
    // Not made yet, or made in a transaction since rolled back: made (again), nothing held.
    if (schemaHeld.get() === null) {
      insert = dropChunk = clear = generationOf = setGeneration = undefined;
      forgetAll(false);
      generation = 0;
      create();
    }
    insert ??= sqlite.prepare(
      'INSERT INTO temp.cold_rows (chunk, device_id, metric, metric_key, value, ts) VALUES (?, ?, ?, ?, ?, ?)',
    );
    dropChunk ??= sqlite.prepare('DELETE FROM temp.cold_rows WHERE chunk = ?');
    clear ??= sqlite.prepare('DELETE FROM temp.cold_rows');
    generationOf ??= sqlite.prepare('SELECT generation FROM temp.cold_loads');
    setGeneration ??= sqlite.prepare('UPDATE temp.cold_loads SET generation = ?');
    withWrites(sqlite, () => {
      // A loading rolled back since (the statement after it failed): what is held is not known.
      if ((generationOf?.get() as { generation: number }).generation !== generation) forgetAll(true);
      generation += 1;
      (setGeneration as Statement).run(generation);
      const reach = reachOf(ranges);
      const needed = new Map<number, ChunkHead>();
      for (const span of reach)
        for (const head of chunks.headsOf({ metric: span.metric }, span.fromDay, span.toDay, 'ASC'))
          if (span.reads(head)) needed.set(head.chunk, head);
      // Rewritten since, or gone (compacted into another, removed): out.
      for (const [chunk, held] of loaded) {
        const now = needed.get(chunk);
        if (now ? now.written !== held.written : reach.some((span) => span.reads(held))) forget(chunk);
      }
      let missing = [...needed.values()].filter((head) => !loaded.has(head.chunk));
      const incoming = missing.reduce((sum, head) => sum + head.count, 0);
      if (loadedRows + incoming > MAX_LOADED_ROWS) {
        forgetAll(true);
        missing = [...needed.values()];
      }
      for (const head of missing) {
        for (const reading of chunks.readingsOf(head))
          (insert as Statement).run(head.chunk, head.deviceId, head.metric, head.metricKey, reading.value, reading.ts);
        loaded.set(head.chunk, head);
        loadedRows += head.count;
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

/** The first and last (UTC) days a range touches. */
function daysOf(range: RawRange): [number, number] {
  return [Math.floor(range.fromMs / DAY_MS), Math.floor((range.toMs - 1) / DAY_MS)];
}

/** Days and a metric, and the chunks of them some range reads (one device's, a few, or all). */
interface ChunkSpan {
  fromDay: number;
  toDay: number;
  metric?: string;
  reads(head: ChunkHead): boolean;
}

/**
 * The chunks `ranges` read, as few spans to look up: ranges of the same days and metric share one
 * (a /stats page asks the same windows of a hundred devices: one query of the day's chunks, not a
 * hundred), its devices a set — or all, when one of them names none.
 */
function reachOf(ranges: readonly RawRange[]): ChunkSpan[] {
  const spans = new Map<string, { fromDay: number; toDay: number; metric?: string; devices: Set<string> | null }>();
  for (const range of ranges) {
    if (range.toMs <= range.fromMs) continue;
    const [fromDay, toDay] = daysOf(range);
    const key = `${fromDay} ${toDay} ${range.metric ?? ''} ${range.metric === undefined}`;
    let span = spans.get(key);
    if (!span) {
      span = { fromDay, toDay, metric: range.metric, devices: new Set() };
      spans.set(key, span);
    }
    if (range.deviceId === undefined) span.devices = null;
    else span.devices?.add(range.deviceId);
  }
  return [...spans.values()].map(({ fromDay, toDay, metric, devices }) => ({
    fromDay,
    toDay,
    metric,
    reads: (head: ChunkHead) =>
      head.day >= fromDay &&
      head.day <= toDay &&
      (metric === undefined || metric === head.metric) &&
      (devices === null || devices.has(head.deviceId)),
  }));
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
