import { neutraliseCsvCell } from 'core';
import { stringify } from 'csv-stringify/sync';
import { type Cursor, type ReadingFilter, StorageBusyError, type StoredRow } from '../../storage/port.ts';
import { type ReadingsService, toStoredReading } from './service.ts';

/** The CSV columns: the producer's `--csv` columns plus storedAt, so an export replays as is. */
export const EXPORT_COLUMNS = ['id', 'deviceId', 'metric', 'value', 'unit', 'ts', 'storedAt'] as const;

/** Rows per query: big enough to amortise the query, small enough to keep memory flat. */
const CHUNK_ROWS = 2_000;
/** How long a download under way waits between tries while every reader is busy. */
const BUSY_PAUSE_MS = 100;

/**
 * Streams every matching row, oldest first, as CSV (with a header) or NDJSON. Each chunk is a
 * fresh keyset query, so memory stays constant for any table size and no read transaction is
 * held open for the whole download (which would stop WAL checkpoints).
 *
 * The first chunk is read before the answer starts, so a busy or failing store is a 429 or 503;
 * once a download is under way, a chunk that finds every reader busy waits for one (the
 * download is one read at a time, so this cannot pile up), rather than cut the file short.
 */
export async function exportResponse(
  service: ReadingsService,
  filter: ReadingFilter,
  format: 'csv' | 'ndjson',
  onRows: (count: number) => void = () => {},
): Promise<Response> {
  let after: Cursor | undefined;
  let headerSent = false;
  const encoder = new TextEncoder();
  const render = format === 'csv' ? renderCsv : renderNdjson;
  let first: StoredRow[] | undefined = await service.chunk(filter, CHUNK_ROWS, after);
  const nextChunk = async (): Promise<StoredRow[]> => {
    for (;;) {
      try {
        return await service.chunk(filter, CHUNK_ROWS, after);
      } catch (error) {
        if (!(error instanceof StorageBusyError)) throw error;
        await Bun.sleep(BUSY_PAUSE_MS);
      }
    }
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const rows = first ?? (await nextChunk());
      first = undefined;
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
