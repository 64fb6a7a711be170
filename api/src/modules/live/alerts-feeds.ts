import { partitionOf } from 'core';
import type Redis from 'ioredis';
import { type AlertsFeed, createAlertsFeed } from './alerts-feed.ts';

/**
 * The alerts feed over every partition of the alerts stream (STREAM_PARTITIONS): a feed per
 * partition, each on its own blocking connection. A device's alerts are all in its partition, so
 * one device's feed is that partition's, exactly as with one stream; the feed of every device
 * merges the partitions' feeds into one response. Event ids stay the entries' ids: a client
 * resuming the merged feed with Last-Event-ID resumes every partition after that id (ids are
 * Redis's clock, so after that moment).
 */
export function createPartitionedAlertsFeed(options: {
  redis: Redis;
  partitions: ReadonlyArray<{ blockingRedis: Redis; stream: string }>;
}): AlertsFeed {
  const feeds = options.partitions.map((partition) => createAlertsFeed({ redis: options.redis, ...partition }));
  if (feeds.length === 1) return feeds[0] as AlertsFeed;
  /** Merged clients open: each is a client of every partition's feed. */
  let mergedClients = 0;
  return {
    async subscribe(deviceId, lastEventId, onClose = () => {}) {
      if (deviceId !== undefined)
        return (feeds[partitionOf(deviceId, feeds.length)] as AlertsFeed).subscribe(deviceId, lastEventId, onClose);
      // The merged client is closed once, when the last of its partitions' clients is; and when
      // one of them is closed (dropped for not reading, or the client gone), the others end with it.
      let open = feeds.length;
      let merged: MergedStream | undefined;
      mergedClients += 1;
      // Once per partition, however often a partition's client reports its close.
      const closerOfOne = () => {
        let closed = false;
        return () => {
          if (closed) return;
          closed = true;
          open -= 1;
          if (open === 0) {
            mergedClients -= 1;
            onClose();
          }
          // Last: ending the others closes them, calling back into this (re-entrant).
          merged?.end();
        };
      };
      const responses: Response[] = [];
      try {
        for (const feed of feeds) responses.push(await feed.subscribe(undefined, lastEventId, closerOfOne()));
      } catch (error) {
        for (const response of responses) void response.body?.cancel();
        for (let left = feeds.length - responses.length; left > 0; left--) closerOfOne()();
        throw error;
      }
      merged = mergeStreams(responses.map((response) => response.body as ReadableStream<Uint8Array>));
      if (open < feeds.length) merged.end();
      return new Response(merged.stream, { headers: (responses[0] as Response).headers });
    },
    get clients() {
      return feeds.reduce((sum, feed) => sum + feed.clients, 0) - mergedClients * (feeds.length - 1);
    },
    /** A merged client is dropped by one partition (the others close with it). */
    get dropped() {
      return feeds.reduce((sum, feed) => sum + feed.dropped, 0);
    },
  };
}

export interface MergedStream {
  stream: ReadableStream<Uint8Array>;
  /** Ends it now: the sources are cancelled, and the stream errored so that the connection is cut. */
  end(): void;
}

/**
 * One stream of the chunks of several (each chunk whole SSE messages), in the order they come.
 * A chunk is read from a source only while the merged stream wants more, so a slow client's
 * sources fill their own bounded queues, as one feed's client does; a source that gives up on it
 * says so through `end()` (it cannot be read meanwhile). One source ending ends the others.
 */
export function mergeStreams(sources: ReadonlyArray<ReadableStream<Uint8Array>>): MergedStream {
  const readers = sources.map((source) => source.getReader());
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let waiting: Array<() => void> = [];
  let ended = false;
  const wakeAll = () => {
    const woken = waiting;
    waiting = [];
    for (const wake of woken) wake();
  };
  /** The sources cancelled and the pumps woken to stop; false when that was done already. */
  const stopSources = (reason?: unknown) => {
    if (ended) return false;
    ended = true;
    for (const reader of readers) void reader.cancel(reason).catch(() => {});
    wakeAll();
    return true;
  };
  const finish = (how: 'close' | 'error', reason?: unknown) => {
    if (!stopSources(reason)) return;
    try {
      // Errored without a reason, as a dropped feed client is: Bun cuts the connection at once.
      if (how === 'error') controller?.error(undefined);
      else controller?.close();
    } catch {
      // Already closed by the client.
    }
  };
  const pump = async (
    reader: ReadableStreamDefaultReader<Uint8Array>,
    into: ReadableStreamDefaultController<Uint8Array>,
  ) => {
    try {
      while (!ended) {
        while (!ended && (into.desiredSize ?? 0) <= 0) await new Promise<void>((wake) => waiting.push(wake));
        if (ended) return;
        const { done, value } = await reader.read();
        if (done || ended) break;
        into.enqueue(value);
      }
      finish('close');
    } catch (error) {
      finish('error', error);
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(started) {
      controller = started;
      for (const reader of readers) void pump(reader, started);
    },
    pull: wakeAll,
    cancel: (reason) => void stopSources(reason),
  });
  return { stream, end: () => finish('error') };
}
