/**
 * The NATS JetStream build's worker: a durable pull consumer (explicit acks, pulled continuously);
 * everything that arrived together (up to BATCH messages) goes into SQLite in one transaction (see
 * peer-sqlite.ts), and its messages are acknowledged after the commit. Exits once EXPECT
 * readings are stored, printing when the last one was.
 */
import type { Reading } from 'core';
import { AckPolicy, type JsMsg, connect } from 'nats';
import { openPeerStore } from '../peer-sqlite.ts';

const expect = Number(process.env.EXPECT);
const batchMessages = Number(process.env.BATCH ?? 20);
const insertAll = openPeerStore(process.env.DATABASE_PATH as string);
const nc = await connect({ servers: process.env.NATS_URL as string });
const jsm = await nc.jetstreamManager();
await jsm.consumers.add('READINGS', { durable_name: 'store', ack_policy: AckPolicy.Explicit, max_ack_pending: 20_000 });
const consumer = await nc.jetstream().consumers.get('READINGS', 'store');
console.log(JSON.stringify({ event: 'ready' }));

let stored = 0;
const messages = await consumer.consume({ max_messages: 2 * batchMessages });
let arrived: JsMsg[] = [];
for await (const message of messages) {
  arrived.push(message);
  // Everything that arrived together (up to BATCH messages) in one transaction.
  if (messages.getPending() > 0 && arrived.length < batchMessages) continue;
  const readings = arrived.flatMap((m) => m.json<Reading[]>());
  insertAll(readings);
  for (const m of arrived) m.ack();
  stored += readings.length;
  arrived = [];
  if (stored >= expect) break;
}
console.log(JSON.stringify({ event: 'stored', at: Date.now(), readings: stored }));
await nc.drain();
