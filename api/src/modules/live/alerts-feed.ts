import { type Alert, compareEntryIds, decodeAlert } from 'core';
import type Redis from 'ioredis';
import { type SseClient, sseResponse } from './sse.ts';

type Entry = [id: string, fields: string[]];


/**
 * Live alert transitions for SSE clients, read from the alerts stream by one blocking XREAD per
 * API process while anyone listens. Event ids are stream entry ids: `Last-Event-ID` resumes.
 */
export function createAlertsFeed(options: { redis: Redis; blockingRedis: Redis; stream: string }) {
  const { redis, blockingRedis, stream } = options;
  const clients = new Set<{ client: SseClient<Alert>; deviceId?: string }>();
  let lastId = '0-0';
  let reading: Promise<void> | undefined;

  const broadcast = (entries: Entry[]) => {
    for (const [id, fields] of entries) {
      lastId = id;
      let alert: Alert;
      try {
        alert = decodeAlert(fields);
      } catch {
        continue;
      }
      for (const { client, deviceId } of clients) if (deviceId === undefined || deviceId === alert.deviceId) client.send(id, alert);
    }
  };

  const readLoop = async () => {
    while (clients.size > 0) {
      try {
        const reply = (await blockingRedis.call('XREAD', 'COUNT', 500, 'BLOCK', 1_000, 'STREAMS', stream, lastId)) as Array<[string, Entry[]]> | null;
        if (reply?.[0]) broadcast(reply[0][1]);
      } catch {
        await Bun.sleep(1_000);
      }
    }
    reading = undefined;
  };

  return {
    async subscribe(deviceId: string | undefined, lastEventId: string | null): Promise<Response> {
      if (clients.size === 0) {
        const newest = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as Entry[];
        lastId = newest[0]?.[0] ?? '0-0';
      }
      const entry = { client: undefined as unknown as SseClient<Alert>, deviceId };
      const { response, client } = sseResponse<Alert>({ event: 'alert', onClose: () => clients.delete(entry) });
      entry.client = client;
      const resume = lastEventId !== null && /^\d+-\d+$/.test(lastEventId);
      const backlog = resume
        ? ((await redis.xrange(stream, `(${lastEventId}`, lastId === '0-0' ? '-' : lastId, 'COUNT', 10_000)) as Entry[])
        : ((await redis.xrevrange(stream, lastId === '0-0' ? '-' : lastId, '-', 'COUNT', 100)) as Entry[]).reverse();
      for (const [id, fields] of backlog) {
        if (lastId === '0-0' || compareEntryIds(id, lastId) > 0) continue;
        try {
          const alert = decodeAlert(fields);
          if (deviceId === undefined || deviceId === alert.deviceId) client.send(id, alert);
        } catch {
          // An undecodable entry is the notifier's to dead-letter; the feed skips it.
        }
      }
      clients.add(entry);
      reading ??= readLoop();
      return response;
    },
    get clients() {
      return clients.size;
    },
  };
}

export type AlertsFeed = ReturnType<typeof createAlertsFeed>;
