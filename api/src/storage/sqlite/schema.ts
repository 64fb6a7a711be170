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
