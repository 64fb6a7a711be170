import type { FeedRow, StoredRow } from '../port.ts';

/** A row of `readings` as Bun's client gives it. */
export interface Row {
  seq?: string | number;
  id: string;
  device_id: string;
  metric: string;
  value: number;
  unit: string;
  ts: string | number;
  stored_at: string | number;
}

// bigint columns arrive as strings; epoch milliseconds fit a double exactly.
export const toStored = (row: Row): StoredRow => ({
  id: row.id,
  deviceId: row.device_id,
  metric: row.metric,
  value: row.value,
  unit: row.unit,
  ts: Number(row.ts),
  storedAt: Number(row.stored_at),
});
export const toFeed = (row: Row): FeedRow => ({ ...toStored(row), seq: Number(row.seq) });
