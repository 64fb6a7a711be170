import { type SQL, and, eq, gte, lt } from 'drizzle-orm';
import type { ReadingFilter } from '../port.ts';
import { readings } from './schema.ts';

/** The filter as Drizzle conditions. */
function filterConditions(filter: ReadingFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.deviceId !== undefined) conditions.push(eq(readings.deviceId, filter.deviceId));
  if (filter.metric !== undefined) conditions.push(eq(readings.metric, filter.metric));
  if (filter.fromMs !== undefined) conditions.push(gte(readings.ts, filter.fromMs));
  if (filter.toMs !== undefined) conditions.push(lt(readings.ts, filter.toMs));
  return conditions;
}

export function whereFilter(filter: ReadingFilter, ...more: Array<SQL | undefined>): SQL | undefined {
  return and(...filterConditions(filter), ...more);
}
