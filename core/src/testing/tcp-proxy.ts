import type { Socket } from 'bun';

/**
 * A TCP proxy on loopback that can lose a reply: armed, it forwards the client's next request,
 * then cuts both connections when the server answers it — the server applied the command, the
 * client never heard so. The way to test that a retried write is stored once.
 */
export async function startTcpProxy(targetPort: number) {
  let dropsArmed = 0;
  let dropped = 0;
  const server = Bun.listen<{ upstream?: Socket<unknown>; pending: Uint8Array[]; dropReply: boolean }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(client) {
        client.data = { pending: [], dropReply: false };
        client.data.upstream = await Bun.connect({
          hostname: '127.0.0.1',
          port: targetPort,
          socket: {
            open(upstream) {
              for (const chunk of client.data.pending) upstream.write(chunk);
              client.data.pending = [];
            },
            data(upstream, chunk) {
              if (client.data.dropReply) {
                dropped += 1;
                upstream.end();
                client.end();
                return;
              }
              client.write(chunk);
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        });
      },
      data(client, chunk) {
        if (dropsArmed > 0 && !client.data.dropReply) {
          dropsArmed -= 1;
          client.data.dropReply = true;
        }
        if (client.data.upstream) client.data.upstream.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.upstream?.end();
      },
    },
  });
  return {
    url: `redis://127.0.0.1:${server.port}`,
    /** The next `count` requests (one per connection) lose their reply. */
    dropReplies(count = 1) {
      dropsArmed += count;
    },
    get dropped() {
      return dropped;
    },
    stop: () => server.stop(true),
  };
}
