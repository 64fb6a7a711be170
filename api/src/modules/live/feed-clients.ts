import { type SseChunk, type SseClient, type SseClientOptions, sseChunk, sseResponse } from './sse.ts';

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
export interface JoinOptions<F, P> {
  filter: F;
  /** Equal for equal filters. */
  key: string;
  clientOptions: SseClientOptions;
  /** Runs once when the client goes. */
  onClose: () => void;
  /** Where the live feed is now. */
  position: () => P;
  /** What the client missed, up to `upTo` (the feed's position when it joined). */
  backlog: (upTo: P) => Promise<SseChunk | undefined>;
  /** What the live feed passed between two of its positions, for this client. */
  passed: (from: P, upTo: P) => Promise<SseChunk | undefined>;
}

export function createFeedClients<F, T>(matches: (filter: F, item: T) => boolean) {
  const clients = new Set<FeedClient<F>>();
  let dropped = 0;
  return {
    clients,
    /** Clients dropped since start because they could not keep up. */
    get dropped() {
      return dropped;
    },
    /**
     * A new client's SSE response: its backlog, what the live feed passed while the backlog was
     * read (so it joins without a gap or a repeat), then the live feed.
     */
    async join<P>({ filter, key, clientOptions, onClose, position, backlog, passed }: JoinOptions<F, P>): Promise<Response> {
      const { response, client } = sseResponse({
        ...clientOptions,
        onClose: (wasDropped) => {
          clients.delete(entry);
          if (wasDropped) dropped += 1;
          onClose();
        },
      });
      const entry = { client, filter, key };
      try {
        let covered = position();
        const replay = await backlog(covered);
        if (replay) client.send(replay);
        while (position() !== covered && client.open) {
          const upTo = position();
          const chunk = await passed(covered, upTo);
          if (chunk) client.send(chunk);
          covered = upTo;
        }
      } catch (error) {
        client.close();
        throw error;
      }
      if (client.open) clients.add(entry);
      return response;
    },
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
