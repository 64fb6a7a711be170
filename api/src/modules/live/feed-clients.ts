import { type SseChunk, type SseClient, sseChunk, sseResponse } from './sse.ts';

/** Messages replayed at most on connect or resume; a client further behind gets a `reset`. */
export const REPLAY_MAX = 500;
/** Messages sent on a fresh connect: the most recent ones. */
export const REPLAY_RECENT = 100;
/** Entries looked at after a Last-Event-ID: bounded, so a resume costs the same however far behind. */
export const RESUME_SCAN = 5_000;

export interface FeedClient<F> {
  client: SseClient;
  filter: F;
  /** Clients with equal keys have equal filters and share the encoded bytes of a broadcast. */
  key: string;
}

/**
 * Chunks are cut at about this size: a client's queue and what Bun holds for its socket are
 * counted in chunks, and a chunk's bytes are shared by every client it goes to.
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

export interface JoinOptions<F, P> {
  filter: F;
  /** Equal for equal filters. */
  key: string;
  /** Runs once when the client goes. */
  onClose: () => void;
  /** Where the live feed is now. */
  position: () => P;
  /** What the client missed, up to `upTo` (the feed's position when it joined). */
  backlog: (upTo: P) => Promise<SseChunk | undefined>;
  /** What the live feed passed between two of its positions, for this client. */
  passed: (from: P, upTo: P) => Promise<SseChunk | undefined>;
}

/**
 * The clients of one feed. A broadcast encodes each message once and, per distinct filter, the
 * matching messages once: its cost grows with the messages and the distinct filters, while each
 * client costs one reference per chunk.
 */
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
    async join<P>({ filter, key, onClose, position, backlog, passed }: JoinOptions<F, P>): Promise<Response> {
      const { response, client } = sseResponse({
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

/** Messages as one chunk, after a `reset` event when one is given. */
export function replayChunk(messages: readonly string[], reset?: { reason: string }): SseChunk | undefined {
  // No id line: a reset does not move the client's Last-Event-ID; the messages after it do.
  const head = reset ? `event: reset\ndata: ${JSON.stringify(reset)}\n\n` : '';
  if (messages.length === 0 && head === '') return undefined;
  return sseChunk(head + messages.join(''), messages.length + (reset ? 1 : 0));
}

export interface BacklogOptions<T> {
  /** The newest REPLAY_RECENT items for the client, oldest first. */
  recent: () => Promise<T[]>;
  /** Up to RESUME_SCAN + 1 items after the client's Last-Event-ID (any filter); absent on a fresh connect. */
  scanAfter?: () => Promise<T[]>;
  matches: (item: T) => boolean;
  message: (item: T) => string;
  /** Names what was missed since when, for the reset: `alerts since 1-0`. */
  missed: string;
}

/**
 * What a newly connected client is sent before it joins the live feed: on a fresh connect the
 * most recent messages; on a resume those it missed, or — when it is more than REPLAY_MAX
 * messages (or RESUME_SCAN entries) behind — a `reset` event saying so and the most recent.
 */
export async function backlogChunk<T>({
  recent,
  scanAfter,
  matches,
  message,
  missed,
}: BacklogOptions<T>): Promise<SseChunk | undefined> {
  if (!scanAfter) return replayChunk((await recent()).map(message));
  const scanned = await scanAfter();
  const matching = scanned.filter(matches);
  if (scanned.length > RESUME_SCAN || matching.length > REPLAY_MAX) {
    return replayChunk((await recent()).map(message), {
      reason: `more than ${REPLAY_MAX} ${missed} were missed: these are the most recent`,
    });
  }
  return replayChunk(matching.map(message));
}
