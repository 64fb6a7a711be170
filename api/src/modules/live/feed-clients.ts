import { type SseChunk, type SseClient, sseChunk } from './sse.ts';

/** Messages replayed at most on connect or resume; a client further behind gets a `reset`. */
export const REPLAY_MAX = 500;
/** Messages sent on a fresh connect: the most recent ones. */
export const REPLAY_RECENT = 100;

export interface FeedClient<F> {
  client: SseClient;
  filter: F;
  /** Clients with equal keys have equal filters and share the encoded bytes of a broadcast. */
  key: string;
}

/**
 * Chunks are cut at about this size: what Bun holds for a socket that stopped taking data is at
 * most one chunk, so a thousand stalled clients pin at most a thousand of these.
 */
const CHUNK_TEXT_LENGTH = 64 * 1024;

/** Messages as chunks of about CHUNK_TEXT_LENGTH, each encoded once. */
function toChunks(texts: Iterable<string>): SseChunk[] {
  const chunks: SseChunk[] = [];
  let text = '';
  let count = 0;
  for (const message of texts) {
    text += message;
    count += 1;
    if (text.length >= CHUNK_TEXT_LENGTH) {
      chunks.push(sseChunk(text, count));
      text = '';
      count = 0;
    }
  }
  if (count > 0) chunks.push(sseChunk(text, count));
  return chunks;
}

/**
 * The clients of one feed. A broadcast encodes each message once and, per distinct filter, the
 * matching messages once: its cost grows with the messages and the distinct filters, while each
 * client costs one reference per chunk.
 */
export function createFeedClients<F, T>(matches: (filter: F, item: T) => boolean) {
  const clients = new Set<FeedClient<F>>();
  return {
    clients,
    /** `texts[i]` is the encoded SSE message of `items[i]`. */
    broadcast(items: readonly T[], texts: readonly string[]) {
      const byKey = new Map<string, SseChunk[]>();
      for (const entry of clients) {
        let chunks = byKey.get(entry.key);
        if (chunks === undefined) {
          chunks = toChunks(texts.filter((_, index) => matches(entry.filter, items[index] as T)));
          byKey.set(entry.key, chunks);
        }
        for (const chunk of chunks) entry.client.send(chunk);
      }
    },
  };
}

/**
 * What a newly connected client is sent before it joins the live feed, as one chunk: the
 * messages it missed, or — when it is more than REPLAY_MAX behind — a `reset` event saying so,
 * followed by the most recent messages.
 */
export function replayChunk(messages: readonly string[], reset: { reason: string } | undefined): SseChunk | undefined {
  // No id line: a reset does not move the client's Last-Event-ID; the messages after it do.
  const head = reset ? `event: reset\ndata: ${JSON.stringify(reset)}\n\n` : '';
  if (messages.length === 0 && head === '') return undefined;
  return sseChunk(head + messages.join(''), messages.length + (reset ? 1 : 0));
}
