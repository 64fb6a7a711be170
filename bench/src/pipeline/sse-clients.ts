/**
 * Child process of the live scenario: opens SSE clients on /readings/stream — some that never
 * read, some that count every reading they are sent — so that their work does not run on the
 * event loop that measures the API. On SIGTERM (or once every reading client has `expected`
 * readings) it prints `{ fewest, readersClosed }` as one JSON line and exits.
 * Usage: bun sse-clients.ts URL STALLED READERS EXPECTED
 */
import { type Socket, connect } from 'node:net';

const [url = '', stalledArg = '0', readersArg = '0', expectedArg = '0'] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const MARKER = Buffer.from('event: reading\n');

async function open(reads: boolean) {
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject));
  const client = { socket, received: 0, closed: false };
  socket.on('close', () => {
    client.closed = true;
  });
  socket.on('error', () => {});
  if (reads) {
    // The marker can be split across chunks: keep its length minus one byte of each chunk's end.
    let carry: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      for (let at = data.indexOf(MARKER); at !== -1; at = data.indexOf(MARKER, at + MARKER.length))
        client.received += 1;
      carry = data.subarray(Math.max(0, data.length - (MARKER.length - 1)));
    });
  }
  socket.write(`GET /readings/stream HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  if (!reads) socket.pause();
  return client;
}

const stalled: Array<Awaited<ReturnType<typeof open>>> = [];
for (let i = 0; i < Number(stalledArg); i++) stalled.push(await open(false));
const readers: Array<Awaited<ReturnType<typeof open>>> = [];
for (let i = 0; i < Number(readersArg); i++) readers.push(await open(true));
console.log(JSON.stringify({ connected: stalled.length + readers.length }));

const report = () => {
  const fewest = Math.min(...readers.map((c) => c.received));
  console.log(JSON.stringify({ fewest, readersClosed: readers.filter((c) => c.closed).length }));
  process.exit(0);
};
process.on('SIGTERM', report);
const expected = Number(expectedArg);
setInterval(() => {
  if (readers.every((c) => c.received >= expected || c.closed)) report();
}, 100);
