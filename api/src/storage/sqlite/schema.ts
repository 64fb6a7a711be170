import { index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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
    // Newest-first listing, time windows and keyset pagination by (ts, id).
    index('readings_ts_id').on(table.ts, table.id),
    // The same, per device.
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
