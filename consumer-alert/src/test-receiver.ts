/** A real HTTP webhook receiver on 127.0.0.1 that records requests and answers as told. */
export interface ReceivedMessage {
  at: number;
  text: string;
  alertIds: string[];
  status: number;
  /** The whole JSON body, for formats other than Slack's. */
  body: unknown;
}

export type Answer = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

export function startReceiver(answer: (requestNumber: number) => Answer = () => ({ status: 200, body: 'ok' })) {
  const received: ReceivedMessage[] = [];
  const hanging: Array<() => void> = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const body = (await request.json()) as { text: string; alertIds: string[] };
      const reply = answer(received.length + 1);
      received.push({
        at: Date.now(),
        text: body.text,
        alertIds: body.alertIds,
        status: reply === 'hang' ? 0 : reply.status,
        body,
      });
      if (reply === 'hang') {
        await new Promise<void>((resolve) => hanging.push(resolve));
        return new Response('late', { status: 200 });
      }
      return new Response(reply.body ?? '', { status: reply.status, headers: reply.headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    port: server.port,
    received,
    /** Alert ids that arrived in a message the receiver answered with 2xx. */
    delivered: () => received.filter((m) => m.status >= 200 && m.status < 300).flatMap((m) => m.alertIds),
    stop: () => {
      for (const release of hanging) release();
      server.stop(true);
    },
  };
}
