import type { Db } from '../../db/client.ts';
import type { ReadingRow } from '../../db/schema.ts';
import { toStoredReading } from '../readings/service.ts';
import { REPLAY_MAX, REPLAY_RECENT, createFeedClients, replayChunk } from './feed-clients.ts';
import { type SseClientOptions, sseMessage, sseResponse } from './sse.ts';

export interface FeedFilter {
  deviceId?: string;
  metric?: string;
}

const COLUMNS = 'rowid AS seq, id, device_id AS deviceId, metric, value, unit, ts, stored_at AS storedAt';
/** Rows fetched per poll of new readings; more wait for the next turn. */
const FETCH_ROWS = 2_000;
/**
 * Polls for new rows at most this often. Every poll costs a socket write per client, whatever it
 * carries: at 5,000 readings/s in small write batches, polling after each batch cost a thousand
 * clients a hundred thousand writes a second; this makes it a few thousand, for 50 ms of delay.
 */
const MIN_POLL_INTERVAL_MS = 50;
/** Rows looked at, newest first, to find a filtered client's recent readings on connect. */
const RECENT_SCAN_ROWS = 2_000;
/** Rows looked at after a Last-Event-ID: bounded, so a resume costs the same however far behind. */
const RESUME_SCAN_ROWS = 5_000;

/** A stored row and its storage sequence number (the SQLite rowid). */
type FeedRow = ReadingRow & { seq: number };

const matches = (filter: FeedFilter, row: FeedRow) =>
  (filter.deviceId === undefined || filter.deviceId === row.deviceId) && (filter.metric === undefined || filter.metric === row.metric);

const message = (row: FeedRow) => sseMessage('reading', row.seq, toStoredReading(row));

/**
 * Live readings for SSE clients. Event ids are SQLite rowids, which grow with every insert, so
 * `Last-Event-ID` resumes without gaps. New rows are read once per write burst for all clients
 * (not per client, and off the insert path), and each is encoded once: the store never waits for
 * a dashboard, and a thousand dashboards cost little more than one.
 */
export function createReadingsFeed(db: Db, clientOptions: SseClientOptions = {}) {
  const sqlite = db.$client;
  const latest = sqlite.prepare(`SELECT ${COLUMNS} FROM readings ORDER BY rowid DESC LIMIT ?`);
  const after = sqlite.prepare(`SELECT ${COLUMNS} FROM readings WHERE rowid > ? ORDER BY rowid LIMIT ?`);
  const maxSeq = sqlite.prepare('SELECT coalesce(max(rowid), 0) AS seq FROM readings');
  const feed = createFeedClients<FeedFilter, FeedRow>(matches);
  let lastSeq = 0;
  let scheduled = false;
  let lastPollAt = 0;
  let dropped = 0;

  const poll = () => {
    scheduled = false;
    lastPollAt = performance.now();
    if (feed.clients.size === 0) return;
    const rows = after.all(lastSeq, FETCH_ROWS) as FeedRow[];
    if (rows.length === 0) return;
    lastSeq = (rows.at(-1) as FeedRow).seq;
    feed.broadcast(rows, rows.map(message));
    if (rows.length === FETCH_ROWS) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(poll, Math.max(0, lastPollAt + MIN_POLL_INTERVAL_MS - performance.now()));
  };

  /** The client's backlog, up to lastSeq (what the live feed has already passed). */
  const backlog = (filter: FeedFilter, resumeFrom: number | undefined) => {
    const recent = () =>
      (latest.all(RECENT_SCAN_ROWS) as FeedRow[])
        .filter((row) => row.seq <= lastSeq && matches(filter, row))
        .slice(0, REPLAY_RECENT)
        .reverse();
    if (resumeFrom === undefined) return replayChunk(recent().map(message), undefined);
    const scanned = (after.all(resumeFrom, RESUME_SCAN_ROWS + 1) as FeedRow[]).filter((row) => row.seq <= lastSeq);
    const missed = scanned.filter((row) => matches(filter, row));
    if (scanned.length > RESUME_SCAN_ROWS || missed.length > REPLAY_MAX) {
      return replayChunk(recent().map(message), { reason: `more than ${Math.min(missed.length, REPLAY_MAX)} readings were missed since ${resumeFrom}: these are the most recent` });
    }
    return replayChunk(missed.map(message), undefined);
  };

  return {
    /** Called after every write: new rows go out to the clients shortly after. */
    notify() {
      if (feed.clients.size > 0) schedule();
    },
    get clients() {
      return feed.clients.size;
    },
    /** Clients dropped since start because they could not keep up. */
    get dropped() {
      return dropped;
    },
    /**
     * An SSE response: the last 100 (or what followed `lastEventId`), then live rows.
     * `onClose` runs once when the client goes.
     */
    subscribe(filter: FeedFilter, lastEventId: string | null, onClose: () => void = () => {}): Response {
      if (feed.clients.size === 0) lastSeq = (maxSeq.get() as { seq: number }).seq;
      const key = `${filter.deviceId ?? ''}\n${filter.metric ?? ''}`;
      const { response, client } = sseResponse({
        ...clientOptions,
        onClose: (wasDropped) => {
          feed.clients.delete(entry);
          if (wasDropped) dropped += 1;
          onClose();
        },
      });
      const entry = { client, filter, key };
      const resumeFrom = lastEventId !== null && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;
      const replay = backlog(filter, resumeFrom);
      if (replay) client.send(replay);
      if (client.open) feed.clients.add(entry);
      return response;
    },
  };
}

export type ReadingsFeed = ReturnType<typeof createReadingsFeed>;
