import {
  blob,
  index,
  integer,
  numeric,
  primaryKey,
  real,
  sqliteTable,
  sqliteView,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

/**
 * Device ids, metrics and units, each stored once: a reading row holds their integer keys (a
 * key is never reused or changed, so the writer keeps them in memory).
 */
export const names = sqliteTable('names', {
  key: integer('key').primaryKey(),
  name: text('name').notNull().unique(),
});

/**
 * Stored readings, compact (issue: history at scale — 285 bytes a reading before, with its
 * indexes). The reading id is the idempotency key (INSERT OR IGNORE on its unique index): a
 * canonical lowercase UUID is kept as its 16 bytes, any other id as the text it is (ids.ts).
 * Device, metric and unit are keys into `names`; `lead` is `storedAt - ts` (a few bytes, where
 * a second time took 6). `seq` is the rowid: it grows with every insert, the change feed's
 * sequence. Read through the `readings` view, which gives the API's columns back.
 */
export const readingRows = sqliteTable(
  'reading_rows',
  {
    seq: integer('seq').primaryKey(),
    id: blob('id').notNull(),
    device: integer('device').notNull(),
    metric: integer('metric').notNull(),
    value: real('value').notNull(),
    unit: integer('unit').notNull(),
    /** When the device measured it, epoch milliseconds (the API speaks ISO-8601). */
    ts: integer('ts').notNull(),
    /** How long after `ts` it was committed here: the lead time. */
    lead: integer('lead').notNull(),
  },
  (table) => [
    uniqueIndex('reading_rows_id').on(table.id),
    // Newest-first listing, time windows, retention and keyset pagination by (ts, id): SQLite
    // orders the few rows of one ts by id as it reads them.
    index('reading_rows_ts').on(table.ts),
    // The same per device.
    index('reading_rows_device_ts').on(table.device, table.ts),
  ],
);

/**
 * The readings as the API knows them (created by migration 0004): ids as text, names for keys,
 * `stored_at` (and `seq` for the change feed, `stored_id` the id as kept: the API's reads
 * convert it in JS, at a third of what the view's text conversion costs, and order and page by
 * it). Every read goes through it; writes go to `reading_rows`.
 */
export const readings = sqliteView('readings', {
  id: text('id').notNull(),
  deviceId: text('device_id').notNull(),
  metric: text('metric').notNull(),
  value: real('value').notNull(),
  unit: text('unit').notNull(),
  ts: integer('ts').notNull(),
  /** When it was committed here: `storedAt - ts` is the lead time. */
  storedAt: integer('stored_at').notNull(),
}).existing();

/**
 * Alert history: every transition of the alerts stream, stored by consumer-store's `history`
 * group. The alert id (made by the evaluator) is the primary key: storing is idempotent.
 */
export const alerts = sqliteTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id').notNull(),
    deviceId: text('device_id').notNull(),
    metric: text('metric').notNull(),
    /** The reading's value and the rule's threshold; null for kinds without (absence). */
    value: real('value'),
    threshold: real('threshold'),
    state: text('state').notNull(),
    severity: text('severity').notNull(),
    /** The reading's time. */
    ts: integer('ts').notNull(),
    readingId: text('reading_id').notNull(),
    note: text('note'),
    /** 1: a silence covered it, 0: not; the notifier decides the same way. */
    silenced: integer('silenced').notNull(),
    /** 1: recorded without a notification (a flapping device's transitions). */
    quiet: integer('quiet').notNull(),
    /** When the evaluator wrote it (its alerts-stream entry time). */
    raisedAt: integer('raised_at').notNull(),
    /** Who acknowledged it, when and why (POST /alerts/:id/ack); null while nobody has. */
    ackedBy: text('acked_by'),
    ackedAt: integer('acked_at'),
    ackNote: text('ack_note'),
  },
  (table) => [
    // Newest-first listing and keyset pagination by (ts, id); retention deletes by ts.
    index('alerts_ts_id').on(table.ts, table.id),
    index('alerts_device_ts_id').on(table.deviceId, table.ts, table.id),
  ],
);

/** What a rollup row holds (see ../rollups.ts); `start_minute` is epoch minutes, `level` minutes. */
const rollupColumns = {
  level: integer('level').notNull(),
  startMinute: integer('start_minute').notNull(),
  metric: text('metric').notNull(),
  count: integer('count').notNull(),
  // NUMERIC, not REAL: in a WITHOUT ROWID table SQLite keeps a REAL as 8 bytes even when it
  // is whole; NUMERIC keeps a whole value as the few bytes of an integer (21 bytes a row less
  // for whole-number metrics), and every other value as the same double.
  sum: numeric('sum', { mode: 'number' }).notNull(),
  min: numeric('min', { mode: 'number' }).notNull(),
  max: numeric('max', { mode: 'number' }).notNull(),
};

/**
 * Per device, metric and minute (written with the readings), hour and day (derived). The key
 * leads with the time, so a batch's upserts land together at the end of the tree; the second
 * index serves one device's history and the per-device pages of /stats. WITHOUT ROWID (added
 * by hand to the migration: Drizzle cannot say it) stores each row once, in its key's tree.
 */
export const rollupsDevice = sqliteTable(
  'rollups_device',
  { ...rollupColumns, deviceId: text('device_id').notNull() },
  (table) => [
    primaryKey({ columns: [table.level, table.startMinute, table.deviceId, table.metric] }),
    index('rollups_device_by_device').on(table.deviceId, table.level, table.startMinute),
  ],
);

/** The same for all devices together, per metric: a window over every device reads few rows. */
export const rollupsMetric = sqliteTable('rollups_metric', rollupColumns, (table) => [
  primaryKey({ columns: [table.level, table.startMinute, table.metric] }),
]);

/** Hours whose minute rows changed since their hour and day rows were derived (compaction). */
export const rollupDirty = sqliteTable('rollup_dirty', { hour: integer('hour').primaryKey() });

/**
 * Of a dirty hour, the devices and metrics that changed, when only a few did: a late reading, a
 * PATCH or DELETE in an hour gone by. Compaction then derives their rows alone instead of the
 * hour's thousand. A dirty hour with none listed changed as a whole (its readings arrived on
 * time) and is derived whole. WITHOUT ROWID, added by hand.
 */
export const rollupDirtySeries = sqliteTable(
  'rollup_dirty_series',
  {
    hour: integer('hour').notNull(),
    deviceId: text('device_id').notNull(),
    metric: text('metric').notNull(),
  },
  (table) => [primaryKey({ columns: [table.hour, table.deviceId, table.metric] })],
);

/**
 * Readings above a threshold per hour or day rollup row, worked out when the row is derived, for
 * the thresholds /stats is asked about by default (the alerting rules', and 50): the over-
 * threshold count of a long window then needs no minute opened. Another threshold still gets an
 * exact answer, by opening the rows that straddle it. WITHOUT ROWID, added by hand.
 */
export const rollupOver = sqliteTable(
  'rollup_over',
  {
    level: integer('level').notNull(),
    startMinute: integer('start_minute').notNull(),
    deviceId: text('device_id').notNull(),
    metric: text('metric').notNull(),
    threshold: real('threshold').notNull(),
    above: integer('above').notNull(),
  },
  (table) => [primaryKey({ columns: [table.level, table.startMinute, table.deviceId, table.metric, table.threshold] })],
);

/**
 * How many readings of a metric had each value, per hour and day (derived with the hours from
 * their raw readings; a span with more than 1,000 distinct values of a metric keeps none, and
 * /stats tells a span whose counts do not add up to its readings): the most frequent value of a
 * long window without its raw readings. WITHOUT ROWID, added by hand.
 */
export const rollupValues = sqliteTable(
  'rollup_values',
  {
    level: integer('level').notNull(),
    startMinute: integer('start_minute').notNull(),
    metric: text('metric').notNull(),
    value: real('value').notNull(),
    count: integer('count').notNull(),
  },
  (table) => [primaryKey({ columns: [table.level, table.startMinute, table.metric, table.value] })],
);

/**
 * Cold readings, compressed (see ../chunks/codec.ts): one device's and metric's readings of one
 * day (UTC, by `ts`) in one chunk, in (ts, id) order, moved out of `reading_rows` by compaction.
 * Device and metric are keys into `names`; `first_ts` and `last_ts` bound the chunk's times for
 * windows; `ids` is a filter of the ids it holds (../chunks/id-filter.ts). A reading is in
 * `reading_rows` or in one chunk, never both: compaction moves it in one transaction. Late
 * readings of a compressed day wait as rows until the next compaction folds them in.
 */
export const readingChunks = sqliteTable(
  'reading_chunks',
  {
    // Never reused (AUTOINCREMENT), and with `written` counting its rewrites: a reader's decoded
    // copy, kept by both, is never taken for another chunk's or a later version's.
    chunk: integer('chunk').primaryKey({ autoIncrement: true }),
    written: integer('written').notNull().default(0),
    device: integer('device').notNull(),
    metric: integer('metric').notNull(),
    day: integer('day').notNull(),
    firstTs: integer('first_ts').notNull(),
    lastTs: integer('last_ts').notNull(),
    count: integer('count').notNull(),
    ids: blob('ids').notNull(),
    body: blob('body').notNull(),
  },
  (table) => [
    uniqueIndex('reading_chunks_series_day').on(table.device, table.metric, table.day),
    index('reading_chunks_day').on(table.day),
  ],
);

/**
 * Where a chunk's UUID ids come from, by the day in their first 48 bits (a UUIDv7's making time):
 * a lookup by id reads the filters of that day's chunks only. WITHOUT ROWID, added by hand.
 */
export const chunkIdDays = sqliteTable(
  'chunk_id_days',
  {
    idDay: integer('id_day').notNull(),
    chunk: integer('chunk').notNull(),
  },
  (table) => [primaryKey({ columns: [table.idDay, table.chunk] }), index('chunk_id_days_chunk').on(table.chunk)],
);

/**
 * The chunk of each compressed reading whose id is not a UUID (kept as text): no time in it to
 * narrow a search, so each has an entry of its own — such ids cost about what a row's index does.
 * WITHOUT ROWID, added by hand.
 */
export const chunkTextIds = sqliteTable(
  'chunk_text_ids',
  {
    id: text('id').primaryKey(),
    chunk: integer('chunk').notNull(),
  },
  (table) => [index('chunk_text_ids_chunk').on(table.chunk)],
);

/**
 * Days whose per-device minute rows (`rollups_device` level 1) are not kept: `from_raw` 1, a
 * compressed day, whose device minutes /stats and compaction read from its raw readings (a
 * device reporting less than once a minute had a minute row per reading, most of a compressed
 * day's bytes), its rows removed in steps (`cleared` once none is left); `from_raw` 0, a day
 * whose minutes were made rows again before retention removed some of its raw readings, and
 * which keeps them for good.
 */
export const deviceMinuteDays = sqliteTable('device_minute_days', {
  day: integer('day').primaryKey(),
  fromRaw: integer('from_raw').notNull(),
  cleared: integer('cleared').notNull().default(0),
});
