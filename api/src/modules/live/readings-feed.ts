import type { Db } from '../../db/client.ts';
import type { ReadingRow } from '../../db/schema.ts';
import { toStoredReading } from '../readings/service.ts';
import type { StoredReading } from '../readings/model.ts';
import { type SseClient, sseResponse } from './sse.ts';

export interface FeedFilter {
  deviceId?: string;
  metric?: string;
}

const COLUMNS = 'rowid AS seq, id, device_id AS deviceId, metric, value, unit, ts, stored_at AS storedAt';
/** Rows fetched per poll of new readings; more wait for the next turn. */
const FETCH_ROWS = 2_000;
const REPLAY_ROWS = 100;

/** A stored row and its storage sequence number (the SQLite rowid). */
type FeedRow = ReadingRow & { seq: number };

/**
 * Live readings for SSE clients. Event ids are SQLite rowids, which grow with every insert, so
 * `Last-Event-ID` resumes without gaps. New rows are read once per write burst for all clients
 * (not per client, and off the insert path): the store never waits for a dashboard.
 */
export function createReadingsFeed(db: Db) {
  const sqlite = db.$client;
  const latest = sqlite.prepare(`SELECT ${COLUMNS} FROM readings ORDER BY rowid DESC LIMIT ?`);
  const after = sqlite.prepare(`SELECT ${COLUMNS} FROM readings WHERE rowid > ? ORDER BY rowid LIMIT ?`);
  const maxSeq = sqlite.prepare('SELECT coalesce(max(rowid), 0) AS seq FROM readings');
  const clients = new Set<{ client: SseClient<StoredReading>; filter: FeedFilter }>();
  let lastSeq = 0;
  let scheduled = false;

  const matches = (filter: FeedFilter, row: FeedRow) =>
    (filter.deviceId === undefined || filter.deviceId === row.deviceId) && (filter.metric === undefined || filter.metric === row.metric);

  const poll = () => {
    scheduled = false;
    if (clients.size === 0) return;
    const rows = after.all(lastSeq, FETCH_ROWS) as FeedRow[];
    for (const row of rows) {
      lastSeq = row.seq;
      for (const { client, filter } of clients) if (matches(filter, row)) client.send(row.seq, toStoredReading(row));
    }
    if (rows.length === FETCH_ROWS) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(poll, 0);
  };

  return {
    /** Called after every write: new rows go out to the clients shortly after. */
    notify() {
      if (clients.size > 0) schedule();
    },
    get clients() {
      return clients.size;
    },
    /** An SSE response: the last 100 (or what followed `lastEventId`), then live rows. */
    subscribe(filter: FeedFilter, lastEventId: string | null): Response {
      if (clients.size === 0) lastSeq = (maxSeq.get() as { seq: number }).seq;
      const entry = { client: undefined as unknown as SseClient<StoredReading>, filter };
      const { response, client } = sseResponse<StoredReading>({ event: 'reading', onClose: () => clients.delete(entry) });
      entry.client = client;
      const resumeFrom = lastEventId !== null && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
      // Backlog up to lastSeq (what the live feed has already passed), then join it.
      const backlog =
        resumeFrom === undefined
          ? (latest.all(REPLAY_ROWS * 20) as FeedRow[]).filter((row) => row.seq <= lastSeq && matches(filter, row)).slice(0, REPLAY_ROWS).reverse()
          : (after.all(resumeFrom, 100_000) as FeedRow[]).filter((row) => row.seq <= lastSeq && matches(filter, row));
      for (const row of backlog) client.send(row.seq, toStoredReading(row));
      clients.add(entry);
      return response;
    },
  };
}

export type ReadingsFeed = ReturnType<typeof createReadingsFeed>;
