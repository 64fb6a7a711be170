import { neutraliseCsvCell } from 'core';
import { stringify } from 'csv-stringify/sync';
import type { Cursor, StoredRow } from './port.ts';

/** The CSV columns: the producer's `--csv` columns plus storedAt, so an export replays as is. */
export const EXPORT_COLUMNS = ['id', 'deviceId', 'metric', 'value', 'unit', 'ts', 'storedAt'] as const;

export type ExportFormat = 'csv' | 'ndjson';

/** A chunk of an export as the client gets it: its bytes, how many rows, and where it ended. */
export interface ExportChunk {
  bytes: Uint8Array;
  rows: number;
  /** The last row's cursor, or null when the chunk is empty. */
  last: Cursor | null;
}

/** A stored row as the API answers it: times as ISO 8601 text. */
export function readingJson(row: StoredRow) {
  return {
    id: row.id,
    deviceId: row.deviceId,
    metric: row.metric,
    value: row.value,
    unit: row.unit,
    ts: new Date(row.ts).toISOString(),
    storedAt: new Date(row.storedAt).toISOString(),
  };
}

const encoder = new TextEncoder();

/** A value as UTF-8 JSON, as the API answers it. */
export function jsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** The CSV header line, as bytes. */
export function csvHeader(): Uint8Array {
  return encoder.encode(stringify([EXPORT_COLUMNS as unknown as string[]]));
}

/**
 * Rows as export text. It is made where the rows are read — on a SQLite reader thread, not on the
 * event loop that serves writes: formatting 2,000 rows costs about as much as reading them.
 */
export function exportChunk(rows: readonly StoredRow[], format: ExportFormat): ExportChunk {
  const last = rows.at(-1);
  return {
    bytes: encoder.encode(format === 'csv' ? csvRows(rows) : ndjsonRows(rows)),
    rows: rows.length,
    last: last ? { ts: last.ts, id: last.id } : null,
  };
}

/** Text cells are neutralised against spreadsheet formulas; numbers and times cannot start one. */
function csvRows(rows: readonly StoredRow[]): string {
  return stringify(
    rows.map((row) => [
      neutraliseCsvCell(row.id),
      neutraliseCsvCell(row.deviceId),
      neutraliseCsvCell(row.metric),
      row.value,
      neutraliseCsvCell(row.unit),
      new Date(row.ts).toISOString(),
      new Date(row.storedAt).toISOString(),
    ]),
  );
}

function ndjsonRows(rows: readonly StoredRow[]): string {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(readingJson(row))}\n`;
  return text;
}
