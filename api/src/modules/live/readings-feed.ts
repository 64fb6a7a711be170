import type { FeedRow, ChangeFeed } from '../../storage/port.ts';
import { toStoredReading } from '../readings/service.ts';
import { REPLAY_RECENT, RESUME_SCAN, backlogChunk, createFeedClients, replayChunk } from './feed-clients.ts';
import { sseMessage } from './sse.ts';

export interface FeedFilter {
  deviceId?: string;
  metric?: string;
}

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

const matches = (filter: FeedFilter, row: FeedRow) =>
  (filter.deviceId === undefined || filter.deviceId === row.deviceId) &&
  (filter.metric === undefined || filter.metric === row.metric);

const message = (row: FeedRow) => sseMessage('reading', row.seq, toStoredReading(row));

/**
 * Live readings for SSE clients, from the store's change feed. Event ids are feed sequence
 * numbers, which grow with every insert, so `Last-Event-ID` resumes without gaps. New rows are
 * read once per write burst for all clients (not per client, and off the insert path), and each
 * is encoded once: the store never waits for a dashboard, and a thousand dashboards cost little
 * more than one.
 */
export function createReadingsFeed(store: ChangeFeed) {
  const feed = createFeedClients<FeedFilter, FeedRow>(matches);
  let lastSeq = 0;
  let scheduled = false;
  let polling = false;
  let lastPollAt = 0;

  const poll = async () => {
    scheduled = false;
    if (feed.clients.size === 0) return;
    if (polling) {
      // A change arrived while the last poll was still reading: look again once it is done.
      schedule();
      return;
    }
    polling = true;
    lastPollAt = performance.now();
    try {
      const rows = await store.changesAfter(lastSeq, FETCH_ROWS);
      if (rows.length === 0) return;
      lastSeq = (rows.at(-1) as FeedRow).seq;
      feed.broadcast(rows, rows.map(message));
      if (rows.length === FETCH_ROWS) schedule();
    } catch {
      // Storage trouble is /health's to report; the next change polls again.
    } finally {
      polling = false;
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(poll, Math.max(0, lastPollAt + MIN_POLL_INTERVAL_MS - performance.now()));
  };
  store.onChange(() => {
    if (feed.clients.size > 0) schedule();
  });

  /** The client's backlog, up to `upTo` (what the live feed has already passed). */
  const backlog = (filter: FeedFilter, resumeFrom: number | undefined, upTo: number) =>
    backlogChunk({
      recent: async () =>
        (await store.recentChanges(RECENT_SCAN_ROWS))
          .filter((row) => row.seq <= upTo && matches(filter, row))
          .slice(0, REPLAY_RECENT)
          .reverse(),
      scanAfter:
        resumeFrom === undefined
          ? undefined
          : async () => (await store.changesAfter(resumeFrom, RESUME_SCAN + 1)).filter((row) => row.seq <= upTo),
      matches: (row) => matches(filter, row),
      message,
      missed: `readings since ${resumeFrom}`,
    });

  return {
    get clients() {
      return feed.clients.size;
    },
    /** Clients dropped since start because they could not keep up. */
    get dropped() {
      return feed.dropped;
    },
    /**
     * An SSE response: the last 100 (or what followed `lastEventId`), then live rows.
     * `onClose` runs once when the client goes.
     */
    async subscribe(filter: FeedFilter, lastEventId: string | null, onClose: () => void = () => {}): Promise<Response> {
      if (feed.clients.size === 0 && !polling) lastSeq = await store.lastSeq();
      const resumeFrom = lastEventId !== null && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;
      return feed.join({
        filter,
        key: `${filter.deviceId ?? ''}\n${filter.metric ?? ''}`,
        onClose,
        position: () => lastSeq,
        backlog: (upTo) => backlog(filter, resumeFrom, upTo),
        passed: async (from, upTo) => {
          const rows = await store.changesAfter(from, upTo - from);
          return replayChunk(rows.filter((row) => row.seq <= upTo && matches(filter, row)).map(message));
        },
      });
    },
  };
}

export type ReadingsFeed = ReturnType<typeof createReadingsFeed>;
