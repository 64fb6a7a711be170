import { type Alert, compareEntryIds, decodeAlert } from 'core';
import type Redis from 'ioredis';
import { REPLAY_MAX, REPLAY_RECENT, createFeedClients, replayChunk } from './feed-clients.ts';
import { type SseClientOptions, sseMessage } from './sse.ts';

type Entry = [id: string, fields: string[]];
type Decoded = { id: string; alert: Alert };

/** Entries decoded, in order; an undecodable one is the notifier's to dead-letter: the feed skips it. */
function decodeEntries(entries: readonly Entry[]): Decoded[] {
  const decoded: Decoded[] = [];
  for (const [id, fields] of entries) {
    try {
      decoded.push({ id, alert: decodeAlert(fields) });
    } catch {
      // Skipped, see above.
    }
  }
  return decoded;
}

const matches = (deviceId: string | undefined, { alert }: Decoded) => deviceId === undefined || deviceId === alert.deviceId;
const message = ({ id, alert }: Decoded) => sseMessage('alert', id, alert);

/**
 * Live alert transitions for SSE clients, read from the alerts stream by one blocking XREAD per
 * API process while anyone listens, each encoded once for every client. Event ids are stream
 * entry ids: `Last-Event-ID` resumes.
 */
export function createAlertsFeed(options: { redis: Redis; blockingRedis: Redis; stream: string; clientOptions?: SseClientOptions }) {
  const { redis, blockingRedis, stream, clientOptions = {} } = options;
  const feed = createFeedClients<string | undefined, Decoded>(matches);
  let lastId = '0-0';
  let reading: Promise<void> | undefined;

  const readLoop = async () => {
    while (feed.clients.size > 0) {
      try {
        const reply = (await blockingRedis.call('XREAD', 'COUNT', 500, 'BLOCK', 1_000, 'STREAMS', stream, lastId)) as Array<[string, Entry[]]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        lastId = (entries.at(-1) as Entry)[0];
        const decoded = decodeEntries(entries);
        feed.broadcast(decoded, decoded.map(message));
      } catch {
        await Bun.sleep(1_000);
      }
    }
    reading = undefined;
  };

  /** What the client missed up to lastId (what the live feed has passed), bounded. */
  const backlog = async (deviceId: string | undefined, lastEventId: string | null) => {
    const upTo = lastId === '0-0' ? undefined : lastId;
    const recent = async () => {
      if (upTo === undefined) return [];
      const newest = decodeEntries((await redis.xrevrange(stream, upTo, '-', 'COUNT', REPLAY_RECENT * 20)) as Entry[]);
      return newest.filter((item) => matches(deviceId, item)).slice(0, REPLAY_RECENT).reverse();
    };
    const resume = lastEventId !== null && /^\d{1,20}-\d{1,20}$/.test(lastEventId);
    if (!resume || upTo === undefined) return replayChunk((await recent()).map(message), undefined);
    if (compareEntryIds(lastEventId, upTo) >= 0) return undefined;
    const scanned = decodeEntries((await redis.xrange(stream, `(${lastEventId}`, upTo, 'COUNT', REPLAY_MAX * 10 + 1)) as Entry[]);
    const missed = scanned.filter((item) => matches(deviceId, item));
    if (scanned.length > REPLAY_MAX * 10 || missed.length > REPLAY_MAX) {
      return replayChunk((await recent()).map(message), { reason: `more than ${REPLAY_MAX} alerts were missed since ${lastEventId}: these are the most recent` });
    }
    return replayChunk(missed.map(message), undefined);
  };

  return {
    /** An SSE response: the last 100 alerts (or what followed `lastEventId`), then live ones. */
    async subscribe(deviceId: string | undefined, lastEventId: string | null, onClose: () => void = () => {}): Promise<Response> {
      if (feed.clients.size === 0) {
        const newest = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as Entry[];
        lastId = newest[0]?.[0] ?? '0-0';
      }
      const response = await feed.join({
        filter: deviceId,
        key: deviceId ?? '',
        clientOptions,
        onClose,
        position: () => lastId,
        backlog: () => backlog(deviceId, lastEventId),
        passed: async (from, upTo) => {
          const entries = decodeEntries((await redis.xrange(stream, `(${from}`, upTo)) as Entry[]);
          return replayChunk(entries.filter((item) => matches(deviceId, item)).map(message), undefined);
        },
      });
      reading ??= readLoop();
      return response;
    },
    get clients() {
      return feed.clients.size;
    },
    /** Clients dropped since start because they could not keep up. */
    get dropped() {
      return feed.dropped;
    },
  };
}

export type AlertsFeed = ReturnType<typeof createAlertsFeed>;
