import type { SQL } from 'bun';
import type { ReadingFilter } from '../port.ts';

type Fragment = ReturnType<SQL['unsafe']>;

/** The filter as a WHERE fragment (always a valid condition; TRUE for no filter). */
export function whereFilter(sql: SQL, filter: ReadingFilter): Fragment {
  let where = sql`TRUE`;
  if (filter.deviceId !== undefined) where = sql`${where} AND device_id = ${filter.deviceId}`;
  if (filter.metric !== undefined) where = sql`${where} AND metric = ${filter.metric}`;
  if (filter.fromMs !== undefined) where = sql`${where} AND ts >= ${filter.fromMs}`;
  if (filter.toMs !== undefined) where = sql`${where} AND ts < ${filter.toMs}`;
  return where;
}
