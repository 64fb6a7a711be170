/** One Server-Sent Events message. `id` lets a client resume with Last-Event-ID. */
export function sseMessage(event: string, id: string | number, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface SseClient<T> {
  /** False once the client is gone or was dropped. */
  readonly open: boolean;
  send(id: string | number, data: T): void;
  close(): void;
}

export interface SseOptions {
  event: string;
  /** Bytes a client may have queued before it is dropped: a slow client never slows the pipeline. */
  maxQueuedBytes?: number;
  /** A comment line at this interval keeps proxies from closing an idle stream. Default 5 s (Bun closes connections idle for 10 s). */
  keepAliveMs?: number;
  onClose?: () => void;
}

const encoder = new TextEncoder();

/**
 * An SSE response whose client is pushed to. The queue is bounded: a client that stops reading
 * is dropped (the data stays in the database or stream; it can reconnect with Last-Event-ID).
 */
export function sseResponse<T>(options: SseOptions): { response: Response; client: SseClient<T> } {
  const { event, maxQueuedBytes = 1 << 20, keepAliveMs = 5_000, onClose } = options;
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let open = true;
  let keepAlive: ReturnType<typeof setInterval> | undefined;

  const close = () => {
    if (!open) return;
    open = false;
    clearInterval(keepAlive);
    try {
      controller?.close();
    } catch {
      // Already closed by the client.
    }
    onClose?.();
  };
  const write = (text: string) => {
    if (!open || !controller) return;
    // desiredSize = highWaterMark − queued bytes; far below zero means the client stopped reading.
    if ((controller.desiredSize ?? 0) < -maxQueuedBytes) {
      close();
      return;
    }
    controller.enqueue(encoder.encode(text));
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        c.enqueue(encoder.encode('retry: 2000\n\n'));
        keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs);
      },
      cancel: close,
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );
  const response = new Response(body, {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' },
  });
  return {
    response,
    client: {
      get open() {
        return open;
      },
      send: (id, data) => write(sseMessage(event, id, data)),
      close,
    },
  };
}
