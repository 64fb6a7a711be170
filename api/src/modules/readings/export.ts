import { neutraliseCsvCell } from 'core';
import { stringify } from 'csv-stringify/sync';
import type { Cursor, ReadingFilter, StoredRow } from '../../storage/port.ts';
import { type ReadingsService, toStoredReading } from './service.ts';

/** The CSV columns: the producer's `--csv` columns plus storedAt, so an export replays as is. */
export const EXPORT_COLUMNS = ['id', 'deviceId', 'metric', 'value', 'unit', 'ts', 'storedAt'] as const;

/** Rows per query: big enough to amortise the query, small enough to keep memory flat. */
const CHUNK_ROWS = 2_000;

/**
 * Streams every matching row, oldest first, as CSV (with a header) or NDJSON. Each chunk is a
 * fresh keyset query, so memory stays constant for any table size and no read transaction is
 * held open for the whole download (which would stop WAL checkpoints).
 */
export function exportResponse(
  service: ReadingsService,
  filter: ReadingFilter,
  format: 'csv' | 'ndjson',
  onRows: (count: number) => void = () => {},
): Response {
  let after: Cursor | undefined;
  let headerSent = false;
  const encoder = new TextEncoder();
  const render = format === 'csv' ? renderCsv : renderNdjson;

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const rows = await service.chunk(filter, CHUNK_ROWS, after);
      let text = '';
      if (!headerSent && format === 'csv') text += stringify([EXPORT_COLUMNS as unknown as string[]]);
      headerSent = true;
      if (rows.length > 0) {
        text += render(rows);
        onRows(rows.length);
        const last = rows.at(-1) as StoredRow;
        after = { ts: last.ts, id: last.id };
      }
      if (text) controller.enqueue(encoder.encode(text));
      if (rows.length < CHUNK_ROWS) controller.close();
    },
  });

  const stamp = new Date().toISOString().replaceAll(':', '-').slice(0, 19);
  return new Response(body, {
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="readings-${stamp}.${format}"`,
    },
  });
}

/** Text cells are neutralised against spreadsheet formulas; numbers and times cannot start one. */
function renderCsv(rows: StoredRow[]): string {
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

function renderNdjson(rows: StoredRow[]): string {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(toStoredReading(row))}\n`;
  return text;
}
