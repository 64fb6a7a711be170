import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Stored readings. The producer's reading id is the primary key, which makes every store
 * idempotent (INSERT OR IGNORE). Times are epoch milliseconds; the API speaks ISO-8601.
 */
export const readings = sqliteTable(
  'readings',
  {
    id: text('id').primaryKey(),
    deviceId: text('device_id').notNull(),
    metric: text('metric').notNull(),
    value: real('value').notNull(),
    unit: text('unit').notNull(),
    /** When the device measured it. */
    ts: integer('ts').notNull(),
    /** When it was committed here: `storedAt - ts` is the lead time. */
    storedAt: integer('stored_at').notNull(),
  },
  (table) => [
    // Newest-first listing, time windows, retention and keyset pagination by (ts, id): the index
    // holds ts and the rowid, and SQLite orders the few rows of one ts by id as it reads them
    // (with the 36-byte id in it, it cost 42 bytes more per reading).
    index('readings_ts').on(table.ts),
    // The same per device, id included: a device's page is then read in order from the index
    // (without it, SQLite fetched and sorted all of a device's rows for each page).
    index('readings_device_ts_id').on(table.deviceId, table.ts, table.id),
  ],
);

export type ReadingRow = typeof readings.$inferSelect;

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
    value: real('value').notNull(),
    threshold: real('threshold').notNull(),
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
  sum: real('sum').notNull(),
  min: real('min').notNull(),
  max: real('max').notNull(),
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
export const rollupsMetric = sqliteTable('rollups_metric', rollupColumns, (table) => [primaryKey({ columns: [table.level, table.startMinute, table.metric] })]);

/** Hours whose minute rows changed since their hour and day rows were derived (compaction). */
export const rollupDirty = sqliteTable('rollup_dirty', { hour: integer('hour').primaryKey() });

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
