const encoder = new TextEncoder();

/** One Server-Sent Events message as text. `id` lets a client resume with Last-Event-ID. */
export function sseMessage(event: string, id: string | number, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Messages encoded once and shared, byte for byte, by every client they go to: the cost of a
 * message does not grow with the number of clients, only a reference per client does.
 */
export interface SseChunk {
  bytes: Uint8Array;
  /** How many messages the bytes hold, for the per-client message bound. */
  messages: number;
}

export function sseChunk(text: string, messages: number): SseChunk {
  return { bytes: encoder.encode(text), messages };
}

export interface SseClient {
  /** False once the client is gone or was dropped. */
  readonly open: boolean;
  /** Queues shared bytes for this client; drops the client when its queue would pass a bound. */
  send(chunk: SseChunk): void;
  close(): void;
}

export interface SseClientOptions {
  /**
   * Messages a client may have waiting before it is dropped. Default 10,000: two seconds at
   * 5,000 readings/s, and room for the largest write batch (5,000) arriving at once.
   */
  maxQueuedMessages?: number;
  /**
   * Bytes a client may have waiting before it is dropped. Default 4 MiB. The bytes are shared with
   * every other client, so this bounds what one client pins, not a copy per client.
   */
  maxQueuedBytes?: number;
  /** A comment line at this interval keeps proxies from closing an idle stream. Default 5 s (Bun closes connections idle for 10 s). */
  keepAliveMs?: number;
  /** Called once when the client goes, whatever the reason; `dropped` when it could not keep up. */
  onClose?: (dropped: boolean) => void;
}

const KEEP_ALIVE = sseChunk(': keep-alive\n\n', 0);
const HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * An SSE response that is pushed to. The stream is pull-based: chunks reach Bun only while the
 * socket takes them, and wait in a small per-client queue otherwise. A client whose queue passes
 * its bound in messages or bytes is dropped (the data stays in storage; it resumes with
 * Last-Event-ID), so a client that never reads costs at most that bound.
 */
export function sseResponse(options: SseClientOptions = {}): { response: Response; client: SseClient } {
  const { maxQueuedMessages = 10_000, maxQueuedBytes = 4 * 1024 * 1024, keepAliveMs = 5_000, onClose } = options;
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let open = true;
  const queue: SseChunk[] = [];
  let queuedBytes = 0;
  let queuedMessages = 0;

  const finish = (dropped: boolean) => {
    if (!open) return;
    open = false;
    clearInterval(keepAlive);
    queue.length = 0;
    try {
      // A dropped client's stream is errored rather than closed, so that Bun aborts the connection
      // instead of waiting to flush what the client would not read. With no reason given, Bun
      // does not log a stack trace per dropped client.
      if (dropped) controller?.error(undefined);
      else controller?.close();
    } catch {
      // Already closed by the client.
    }
    onClose?.(dropped);
  };

  const flush = () => {
    if (!controller) return;
    while (queue.length > 0 && (controller.desiredSize ?? 0) > 0) {
      const chunk = queue.shift() as SseChunk;
      queuedBytes -= chunk.bytes.byteLength;
      queuedMessages -= chunk.messages;
      controller.enqueue(chunk.bytes);
    }
  };

  const send = (chunk: SseChunk) => {
    if (!open) return;
    if (queuedMessages + chunk.messages > maxQueuedMessages || queuedBytes + chunk.bytes.byteLength > maxQueuedBytes) {
      finish(true);
      return;
    }
    queue.push(chunk);
    queuedBytes += chunk.bytes.byteLength;
    queuedMessages += chunk.messages;
    flush();
  };

  const keepAlive = setInterval(() => send(KEEP_ALIVE), keepAliveMs);
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        c.enqueue(encoder.encode('retry: 2000\n\n'));
      },
      pull: flush,
      cancel: () => finish(false),
    },
    // One chunk in Bun's hands at a time: the rest waits in the bounded queue above.
    { highWaterMark: 16 },
  );
  return {
    response: new Response(body, { headers: HEADERS }),
    client: {
      get open() {
        return open;
      },
      send,
      close: () => finish(false),
    },
  };
}
