/**
 * The NATS JetStream build's producer: READINGS readings from 1,000 devices, PER_MESSAGE to a
 * message (JSON), each publish acknowledged by the stream (up to 64 in flight). Prints its first
 * publish's time.
 */
import { newEventId } from 'core';
import { connect } from 'nats';
import { peerReadings } from '../peer-sqlite.ts';

const readings = Number(process.env.READINGS);
const perMessage = Number(process.env.PER_MESSAGE);
const nc = await connect({ servers: process.env.NATS_URL as string });
const js = nc.jetstream();
const encoder = new TextEncoder();
console.log(JSON.stringify({ event: 'started', at: Date.now() }));
let inFlight: Promise<unknown>[] = [];
for (const batch of peerReadings(readings, perMessage, newEventId)) {
  inFlight.push(js.publish('readings', encoder.encode(JSON.stringify(batch))));
  if (inFlight.length === 64) {
    await Promise.all(inFlight);
    inFlight = [];
  }
}
await Promise.all(inFlight);
await nc.drain();
console.log(JSON.stringify({ event: 'done', readings }));
