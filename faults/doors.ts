/**
 * The doors besides the producer, driven as their clients would drive them, for fault runs that
 * load every door at once: `POST /ingest` (batches retried until 202), an import (one upload,
 * retried until 202) and MQTT (QoS 1 through a broker to ingest-mqtt). Each keeps the ids it
 * was acknowledged — the promise the checker holds the pipeline to — and takes its own devices,
 * so that per-device order is each door's own order.
 */
import type { Reading } from 'core';
import mqtt from 'mqtt';

export type DoorName = 'ingest' | 'import' | 'mqtt';

export interface Door {
  readonly name: DoorName;
  /** Ids this door was acknowledged (202 for a batch or an upload, PUBACK for a message). */
  readonly acked: readonly string[];
  /** Resolves once every reading was acknowledged. */
  readonly finished: Promise<void>;
}

/** Between attempts that failed (a 503 during a failover, a refused connection). */
const RETRY_MS = 200;
/** Readings per request or per burst of messages. */
const BATCH = 100;

const body = (reading: Reading) => ({
  id: reading.id,
  deviceId: reading.deviceId,
  metric: reading.metric,
  value: reading.value,
  unit: reading.unit,
  ts: reading.ts,
});

/** Tries `attempt` until it answers true. */
async function untilDone(attempt: () => Promise<boolean>): Promise<void> {
  while (!(await attempt().catch(() => false))) await Bun.sleep(RETRY_MS);
}

/** Batches in order at about `rate` readings/s, each sent until it is acknowledged, then the next. */
async function paced(
  readings: readonly Reading[],
  rate: number,
  send: (batch: readonly Reading[]) => Promise<boolean>,
): Promise<void> {
  const started = Date.now();
  for (let at = 0; at < readings.length; at += BATCH) {
    const due = started + (at / rate) * 1_000;
    if (due > Date.now()) await Bun.sleep(due - Date.now());
    await untilDone(() => send(readings.slice(at, at + BATCH)));
  }
}

/** POSTs `payload` to the API; true when it answered 202 (accepted), the answer's body read either way. */
async function accepted(url: string, token: string, contentType: string, payload: string): Promise<boolean> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: payload,
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return response.status === 202;
}

/** `POST /ingest`, a JSON array per request; a batch the API did not answer 202 is sent again (stored once by id). */
export function ingestDoor(apiUrl: string, token: string, readings: readonly Reading[], rate: number): Door {
  const acked: string[] = [];
  const finished = paced(readings, rate, async (batch) => {
    if (!(await accepted(`${apiUrl}/ingest`, token, 'application/json', JSON.stringify(batch.map(body))))) return false;
    acked.push(...batch.map((reading) => reading.id));
    return true;
  });
  return { name: 'ingest', acked, finished };
}

/** One NDJSON upload to `POST /imports`, sent until it is answered 202: from then on the import owes every reading. */
export function importDoor(apiUrl: string, token: string, readings: readonly Reading[]): Door {
  const acked: string[] = [];
  const file = `${readings.map((reading) => JSON.stringify(body(reading))).join('\n')}\n`;
  const finished = untilDone(async () => {
    if (!(await accepted(`${apiUrl}/imports`, token, 'application/x-ndjson', file))) return false;
    acked.push(...readings.map((reading) => reading.id));
    return true;
  });
  return { name: 'import', acked, finished };
}

/** QoS 1 messages on `telemetry/<device>`, a burst at a time; a reading counts as acknowledged on the broker's PUBACK. */
export function mqttDoor(brokerUrl: string, readings: readonly Reading[], rate: number): Door {
  const acked: string[] = [];
  const finished = (async () => {
    const client = await mqtt.connectAsync(brokerUrl, {
      clientId: `faults-device-${process.pid}`,
      clean: false,
      reconnectPeriod: 200,
    });
    try {
      await paced(readings, rate, async (batch) => {
        // mqtt.js resends an unacknowledged QoS 1 message itself (same packet) after a reconnect.
        await Promise.all(
          batch.map((reading) =>
            client.publishAsync(
              `telemetry/${reading.deviceId}`,
              JSON.stringify({
                id: reading.id,
                metric: reading.metric,
                value: reading.value,
                unit: reading.unit,
                ts: reading.ts,
              }),
              { qos: 1 },
            ),
          ),
        );
        acked.push(...batch.map((reading) => reading.id));
        return true;
      });
    } finally {
      await client.endAsync();
    }
  })();
  return { name: 'mqtt', acked, finished };
}
