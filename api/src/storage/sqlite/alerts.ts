import type { Database } from 'bun:sqlite';
import type { AlertAck, AlertFilter, Cursor, StoredAlert } from '../port.ts';

const COLUMNS =
  'id, rule_id AS ruleId, device_id AS deviceId, metric, value, threshold, state, severity, ts, reading_id AS readingId, note, silenced, quiet, raised_at AS raisedAt, acked_by AS ackedBy, acked_at AS ackedAt, ack_note AS ackNote';

type AlertRow = Omit<StoredAlert, 'silenced' | 'quiet'> & { silenced: number; quiet: number };
const toStored = (row: AlertRow): StoredAlert => ({ ...row, silenced: row.silenced === 1, quiet: row.quiet === 1 });

/** The alert history's statements on one connection (raw SQL: the filters are few and fixed). */
export function alertStatements(sqlite: Database) {
  const insertOne = sqlite.prepare(
    'INSERT OR IGNORE INTO alerts (id, rule_id, device_id, metric, value, threshold, state, severity, ts, reading_id, note, silenced, quiet, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertAll = sqlite.transaction((rows: readonly StoredAlert[]) => {
    let inserted = 0;
    for (const a of rows) {
      inserted += insertOne.run(
        a.id,
        a.ruleId,
        a.deviceId,
        a.metric,
        a.value,
        a.threshold,
        a.state,
        a.severity,
        a.ts,
        a.readingId,
        a.note,
        a.silenced ? 1 : 0,
        a.quiet ? 1 : 0,
        a.raisedAt,
      ).changes;
    }
    return { inserted, duplicates: rows.length - inserted };
  });
  const acknowledge = sqlite.prepare(
    'UPDATE alerts SET acked_by = ?, acked_at = ?, ack_note = ? WHERE id = ? AND acked_by IS NULL',
  );
  const byId = sqlite.prepare(`SELECT ${COLUMNS} FROM alerts WHERE id = ?`);
  const removeBefore = sqlite.prepare(
    'DELETE FROM alerts WHERE rowid IN (SELECT rowid FROM alerts WHERE ts < ? LIMIT ?)',
  );

  return {
    insert: (rows: readonly StoredAlert[]) => insertAll(rows),
    acknowledge(id: string, ack: AlertAck): StoredAlert | undefined {
      acknowledge.run(ack.author, ack.at, ack.note, id);
      const row = byId.get(id) as AlertRow | null;
      return row ? toStored(row) : undefined;
    },
    removeBefore: (beforeMs: number, limit: number) => removeBefore.run(beforeMs, limit).changes,
    page(filter: AlertFilter, limit: number, after?: Cursor): StoredAlert[] {
      const where: string[] = [];
      const args: Array<string | number> = [];
      const add = (condition: string, value: string | number) => {
        where.push(condition);
        args.push(value);
      };
      if (filter.deviceId !== undefined) add('device_id = ?', filter.deviceId);
      if (filter.ruleId !== undefined) add('rule_id = ?', filter.ruleId);
      if (filter.state !== undefined) add('state = ?', filter.state);
      if (filter.fromMs !== undefined) add('ts >= ?', filter.fromMs);
      if (filter.toMs !== undefined) add('ts < ?', filter.toMs);
      if (after) {
        where.push('(ts < ? OR (ts = ? AND id < ?))');
        args.push(after.ts, after.ts, after.id);
      }
      const text = `SELECT ${COLUMNS} FROM alerts ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT ?`;
      // Prepared per shape and cached by bun:sqlite's query().
      return (sqlite.query(text).all(...args, limit) as AlertRow[]).map(toStored);
    },
  };
}
