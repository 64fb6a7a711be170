import { parseIsoTime } from 'core';
import { invalidField } from '../../errors.ts';
import type { ReadingFilter } from '../../storage/port.ts';

export interface FilterQuery {
  deviceId?: string;
  metric?: string;
  from?: string;
  to?: string;
}

/** Turns validated query strings into a filter; refuses a window that ends before it starts. */
export function parseFilter(query: FilterQuery): ReadingFilter {
  const fromMs = query.from === undefined ? undefined : parseIsoTime(query.from);
  const toMs = query.to === undefined ? undefined : parseIsoTime(query.to);
  if (fromMs !== undefined && Number.isNaN(fromMs)) throw invalidField('from', 'is not a valid date-time');
  if (toMs !== undefined && Number.isNaN(toMs)) throw invalidField('to', 'is not a valid date-time');
  if (fromMs !== undefined && toMs !== undefined && toMs < fromMs) throw invalidField('to', 'must not be before from');
  return { deviceId: query.deviceId, metric: query.metric, fromMs, toMs };
}

/** `limit` arrives as digits (see the model); the range check gives a message naming it. */
export function parseLimit(raw: string | undefined, fallback = 100, max = 1_000): number {
  if (raw === undefined) return fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw invalidField('limit', `must be between 1 and ${max}`);
  return limit;
}
