import type { SQL } from 'bun';
import type { AlertAck, AlertFilter, Cursor, StoredAlert } from '../port.ts';

interface AlertRow {
  id: string;
  rule_id: string;
  device_id: string;
  metric: string;
  value: number | null;
  threshold: number | null;
  state: StoredAlert['state'];
  severity: StoredAlert['severity'];
  ts: string | number;
  reading_id: string;
  note: string | null;
  silenced: boolean;
  quiet: boolean;
  raised_at: string | number;
  acked_by: string | null;
  acked_at: string | number | null;
  ack_note: string | null;
}

const toStored = (row: AlertRow): StoredAlert => ({
  id: row.id,
  ruleId: row.rule_id,
  deviceId: row.device_id,
  metric: row.metric,
  value: row.value,
  threshold: row.threshold,
  state: row.state,
  severity: row.severity,
  ts: Number(row.ts),
  readingId: row.reading_id,
  note: row.note,
  silenced: row.silenced,
  quiet: row.quiet,
  raisedAt: Number(row.raised_at),
  ackedBy: row.acked_by,
  ackedAt: row.acked_at === null ? null : Number(row.acked_at),
  ackNote: row.ack_note,
});

/** Marks the alert acknowledged (the first acknowledgement stays); the alert after, if there is one. */
export async function acknowledgeAlert(sql: SQL, id: string, ack: AlertAck): Promise<StoredAlert | undefined> {
  await sql`UPDATE alerts SET acked_by = ${ack.author}, acked_at = ${ack.at}, ack_note = ${ack.note}
    WHERE id = ${id} AND acked_by IS NULL`;
  const [row] = (await sql`SELECT * FROM alerts WHERE id = ${id}`) as AlertRow[];
  return row ? toStored(row) : undefined;
}

/** Stores the alerts not stored yet, in one statement over `unnest` arrays. */
export async function insertAlerts(
  sql: SQL,
  rows: readonly StoredAlert[],
): Promise<{ inserted: number; duplicates: number }> {
  if (rows.length === 0) return { inserted: 0, duplicates: 0 };
  const column = <K extends keyof StoredAlert>(key: K) => rows.map((row) => row[key]);
  const result = await sql`
    INSERT INTO alerts (id, rule_id, device_id, metric, value, threshold, state, severity, ts, reading_id, note, silenced, quiet, raised_at)
    SELECT * FROM unnest(
      ${column('id')}::text[], ${column('ruleId')}::text[], ${column('deviceId')}::text[], ${column('metric')}::text[],
      ${column('value')}::float8[], ${column('threshold')}::float8[], ${column('state')}::text[], ${column('severity')}::text[],
      ${column('ts')}::bigint[], ${column('readingId')}::text[], ${column('note')}::text[], ${column('silenced')}::boolean[],
      ${column('quiet')}::boolean[], ${column('raisedAt')}::bigint[]
    )
    ON CONFLICT (id) DO NOTHING`;
  return { inserted: result.count, duplicates: rows.length - result.count };
}

/** Newest first by (ts, id), after the cursor. */
export async function alertPage(sql: SQL, filter: AlertFilter, limit: number, after?: Cursor): Promise<StoredAlert[]> {
  let where = sql`TRUE`;
  if (filter.deviceId !== undefined) where = sql`${where} AND device_id = ${filter.deviceId}`;
  if (filter.ruleId !== undefined) where = sql`${where} AND rule_id = ${filter.ruleId}`;
  if (filter.state !== undefined) where = sql`${where} AND state = ${filter.state}`;
  if (filter.fromMs !== undefined) where = sql`${where} AND ts >= ${filter.fromMs}`;
  if (filter.toMs !== undefined) where = sql`${where} AND ts < ${filter.toMs}`;
  if (after) where = sql`${where} AND (ts, id) < (${after.ts}, ${after.id})`;
  return (await sql`SELECT * FROM alerts WHERE ${where} ORDER BY ts DESC, id DESC LIMIT ${limit}`).map(toStored);
}

export async function removeAlertsBefore(sql: SQL, beforeMs: number, limit: number): Promise<number> {
  const result =
    await sql`DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE ts < ${beforeMs} LIMIT ${limit})`;
  return result.count;
}
