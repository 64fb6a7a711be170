import { type Cursor, type ReadingFilter, StorageBusyError } from '../../storage/port.ts';
import { type ExportChunk, type ExportFormat, csvHeader } from '../../storage/export-text.ts';
import type { ReadingsService } from './service.ts';

/** Rows per query: big enough to amortise the query, small enough to keep memory flat. */
const CHUNK_ROWS = 2_000;
/** How long a download under way waits between tries while every reader is busy. */
const BUSY_PAUSE_MS = 100;

/**
 * Streams every matching row, oldest first, as CSV (with a header) or NDJSON. Each chunk is a
 * fresh keyset query, so memory stays constant for any table size and no read transaction is
 * held open for the whole download (which would stop WAL checkpoints). The store hands back each
 * chunk as text already (SQLite formats it on the reader thread): the event loop that serves
 * writes only passes bytes along.
 *
 * The first chunk is read before the answer starts, so a busy or failing store is a 429 or 503;
 * once a download is under way, a chunk that finds every reader busy waits for one (the
 * download is one read at a time, so this cannot pile up), rather than cut the file short.
 */
export async function exportResponse(
  service: ReadingsService,
  filter: ReadingFilter,
  format: ExportFormat,
  onRows: (count: number) => void = () => {},
): Promise<Response> {
  let after: Cursor | undefined;
  let first: ExportChunk | undefined = await service.exportChunk(filter, CHUNK_ROWS, after, format);
  const nextChunk = async (): Promise<ExportChunk> => {
    for (;;) {
      try {
        return await service.exportChunk(filter, CHUNK_ROWS, after, format);
      } catch (error) {
        if (!(error instanceof StorageBusyError)) throw error;
        await Bun.sleep(BUSY_PAUSE_MS);
      }
    }
  };

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (format === 'csv') controller.enqueue(csvHeader());
    },
    async pull(controller) {
      const chunk = first ?? (await nextChunk());
      first = undefined;
      if (chunk.rows > 0) {
        onRows(chunk.rows);
        controller.enqueue(chunk.bytes);
      }
      if (chunk.last) after = chunk.last;
      if (chunk.rows < CHUNK_ROWS) controller.close();
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
