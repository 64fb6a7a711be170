import { InvalidEventError } from './errors.ts';

/** A stream entry's fields as ioredis returns them: `[name, value, name, value, ...]`. */
export type FieldList = readonly string[];
/** The same fields as an object, the form tests and HTTP bodies tend to have. */
export type FieldRecord = Readonly<Record<string, string | undefined>>;

const ECHO_LIMIT = 40;

/** Quotes a raw input for an error message without echoing a huge value back. */
export function quote(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : String(raw);
  return JSON.stringify(text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text);
}

/** Turns a flat field list into a record; the last value wins for a repeated name, as in Redis. */
export function toFieldRecord(fields: FieldList | FieldRecord): FieldRecord {
  if (!Array.isArray(fields)) return fields as FieldRecord;
  if (fields.length % 2 !== 0) throw new InvalidEventError('fields', 'must be name/value pairs');
  const record: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) record[fields[i] as string] = fields[i + 1] as string;
  return record;
}

export function requireField(record: FieldRecord, name: string): string {
  const raw = record[name];
  if (raw === undefined) throw new InvalidEventError(name, 'is missing');
  return raw;
}

/** A finite decimal number; rejects '', 'NaN', 'Infinity' and values that overflow to Infinity. */
export function parseFiniteNumber(name: string, raw: string): number {
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value)) throw new InvalidEventError(name, `must be a finite number, got ${quote(raw)}`);
  return value;
}

/** Latest instant a JavaScript Date can hold; later "timestamps" are garbage. */
export const MAX_EPOCH_MS = 8_640_000_000_000_000;

/** Integer epoch milliseconds as decimal digits. */
export function parseEpochMs(name: string, raw: string): number {
  if (!/^\d{1,16}$/.test(raw))
    throw new InvalidEventError(name, `must be integer epoch milliseconds, got ${quote(raw)}`);
  const value = Number(raw);
  if (value > MAX_EPOCH_MS)
    throw new InvalidEventError(name, `is beyond the last representable date, got ${quote(raw)}`);
  return value;
}
