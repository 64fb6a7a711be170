/**
 * The Redis primary killed under load (a primary, two replicas and three Sentinels, down-after
 * 1 s): a client POSTs one reading to /ingest every 10 ms throughout. Measures the time from the
 * kill to the first reading acknowledged again, and checks that every reading acknowledged — during
 * the failover window too — is stored once.
 */
import { newEventId } from 'core';
import { waitFor } from 'core/testing';
import { type Measurement, int } from './report.ts';
import { TOKEN, startStack } from './stack.ts';

export async function failoverScenario(): Promise<Measurement[]> {
  const stack = await startStack({ RETAIN_ALERTS: '1000000' }, { ha: true });
  try {
    const ha = stack.ha;
    if (!ha) throw new Error('no HA layout');
    // When each acknowledged request was sent, and when its 202 came.
    const acknowledged: Array<{ id: string; sentMs: number; atMs: number }> = [];
    let sending = true;
    const client = (async () => {
      while (sending) {
        const id = newEventId();
        const sentMs = performance.now();
        const response = await fetch(`${stack.api.url}/ingest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            id,
            deviceId: 'failover-1',
            metric: 'kwh',
            value: acknowledged.length % 100,
            unit: 'kWh',
            ts: new Date().toISOString(),
          }),
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        if (response?.status === 202) acknowledged.push({ id, sentMs, atMs: performance.now() });
        await response?.arrayBuffer().catch(() => {});
        await Bun.sleep(10);
      }
    })();
    await Bun.sleep(3_000);
    const primary = await ha.primary();
    const killedAt = performance.now();
    await primary.kill('SIGKILL');
    await ha.failedOver(primary);
    // A request sent after the kill: one already answered on its way (its WAIT done before) says nothing of the failover.
    await waitFor(() => acknowledged.some((ack) => ack.sentMs > killedAt), {
      what: 'a reading sent after the kill acknowledged',
      timeoutMs: 60_000,
    });
    const firstAfter = acknowledged.find((ack) => ack.sentMs > killedAt) as { atMs: number };
    const lastBefore = [...acknowledged].reverse().find((ack) => ack.atMs <= killedAt);
    await Bun.sleep(2_000);
    sending = false;
    await client;
    await waitFor(async () => (await stack.stored()).distinct >= acknowledged.length, {
      what: 'every acknowledged reading stored',
      timeoutMs: 60_000,
    }).catch(() => {});
    const stored = await stack.stored();
    let lost = 0;
    for (const ack of acknowledged) if (!(await stack.store.get(ack.id))) lost += 1;
    const gapMs = firstAfter.atMs - killedAt;
    return [
      {
        scenario: 'failover',
        name: 'primary kill -9 → first reading sent after it acknowledged (POST /ingest every 10 ms; Sentinel down-after 1 s)',
        result: `${(gapMs / 1_000).toFixed(1)} s (last acknowledged ${lastBefore ? `${Math.round(killedAt - lastBefore.atMs)} ms` : '—'} before the kill)`,
        target: '≤ 10 s',
        met: gapMs <= 10_000,
        data: { gapMs },
      },
      {
        scenario: 'failover',
        name: 'readings acknowledged through the failover, stored',
        result: `${int(acknowledged.length)} acknowledged, ${int(acknowledged.length - lost)} stored, ${lost} lost; ${int(stored.rows)} rows for ${int(stored.distinct)} ids`,
        target: 'all, once',
        met: lost === 0 && stored.rows === stored.distinct,
        data: { acknowledged: acknowledged.length, lost, rows: stored.rows, ids: stored.distinct },
      },
    ];
  } finally {
    await stack.stop();
  }
}
