import { type Alert, compareEntryIds, decodeAlert } from 'core';
import type Redis from 'ioredis';
import { REPLAY_RECENT, RESUME_SCAN, backlogChunk, createFeedClients, replayChunk } from './feed-clients.ts';
import { sseMessage } from './sse.ts';

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

const matches = (deviceId: string | undefined, { alert }: Decoded) =>
  deviceId === undefined || deviceId === alert.deviceId;
const message = ({ id, alert }: Decoded) => sseMessage('alert', id, alert);

/**
 * Live alert transitions for SSE clients, read from the alerts stream by one blocking XREAD per
 * API process while anyone listens, each encoded once for every client. Event ids are stream
 * entry ids: `Last-Event-ID` resumes.
 */
export function createAlertsFeed(options: { redis: Redis; blockingRedis: Redis; stream: string }) {
  const { redis, blockingRedis, stream } = options;
  const feed = createFeedClients<string | undefined, Decoded>(matches);
  let lastId = '0-0';
  let reading: Promise<void> | undefined;

  const readLoop = async () => {
    while (feed.clients.size > 0) {
      try {
        const reply = (await blockingRedis.call(
          'XREAD',
          'COUNT',
          500,
          'BLOCK',
          1_000,
          'STREAMS',
          stream,
          lastId,
        )) as Array<[string, Entry[]]> | null;
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
  const backlog = (deviceId: string | undefined, lastEventId: string | null) => {
    const upTo = lastId === '0-0' ? undefined : lastId;
    const resume = upTo !== undefined && lastEventId !== null && /^\d{1,20}-\d{1,20}$/.test(lastEventId);
    return backlogChunk({
      recent: async () => {
        if (upTo === undefined) return [];
        const newest = decodeEntries(
          (await redis.xrevrange(stream, upTo, '-', 'COUNT', REPLAY_RECENT * 20)) as Entry[],
        );
        return newest
          .filter((item) => matches(deviceId, item))
          .slice(0, REPLAY_RECENT)
          .reverse();
      },
      scanAfter: resume
        ? async () => {
            // A client already at (or, by its claim, past) the feed's position missed nothing.
            if (compareEntryIds(lastEventId, upTo) >= 0) return [];
            return decodeEntries(
              (await redis.xrange(stream, `(${lastEventId}`, upTo, 'COUNT', RESUME_SCAN + 1)) as Entry[],
            );
          }
        : undefined,
      matches: (item) => matches(deviceId, item),
      message,
      missed: `alerts since ${lastEventId}`,
    });
  };

  return {
    /** An SSE response: the last 100 alerts (or what followed `lastEventId`), then live ones. */
    async subscribe(
      deviceId: string | undefined,
      lastEventId: string | null,
      onClose: () => void = () => {},
    ): Promise<Response> {
      if (feed.clients.size === 0) {
        const newest = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as Entry[];
        lastId = newest[0]?.[0] ?? '0-0';
      }
      const response = await feed.join({
        filter: deviceId,
        key: deviceId ?? '',
        onClose,
        position: () => lastId,
        backlog: () => backlog(deviceId, lastEventId),
        passed: async (from, upTo) => {
          const entries = decodeEntries((await redis.xrange(stream, `(${from}`, upTo)) as Entry[]);
          return replayChunk(entries.filter((item) => matches(deviceId, item)).map(message));
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
