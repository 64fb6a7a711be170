/**
 * The webhook receiver answers storms of 429 (with Retry-After) and 500s before it accepts:
 * every alert must reach it exactly once, and it never gets more than one message a second.
 */
import { expect, it } from 'bun:test';
import { startReceiver } from '../consumer-alert/src/test-receiver.ts';
import { runScenario } from './harness.ts';

it('fault: webhook 429 storms and 500s: every alert delivered once, at most one message per second', async () => {
  // Requests 1–4 and 7–8: 429 Retry-After 1 s; 5–6 and 9: 500; after that 200, with a 429 every 5th.
  const receiver = startReceiver((n) => {
    if (n <= 4 || n === 7 || n === 8 || (n > 9 && n % 5 === 0))
      return { status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } };
    if (n <= 9) return { status: 500, body: 'oops' };
    return { status: 200, body: 'ok' };
  });
  try {
    await runScenario(
      {
        // ~2% of readings over the threshold: a few hundred alerts, a handful of digests.
        workload: { readings: 6_000, overShare: 0.02 },
        env: { ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_ALLOW_PRIVATE: 'true' },
        delivered: () => receiver.delivered(),
      },
      async () => {},
      ({ history }) => {
        expect(history.alerts.length).toBeGreaterThan(50);
        expect(receiver.received.filter((m) => m.status === 429).length).toBeGreaterThanOrEqual(6);
        expect(receiver.received.filter((m) => m.status === 500).length).toBe(3);
        // The pace is kept by the sender (Redis's clock); arrival times here carry the machine's
        // jitter. Paced at one a second, no three messages arrive within a second whatever the
        // jitter below a second; unpaced, a digest burst would put several in one.
        const spans = receiver.received.slice(2).map((m, i) => m.at - (receiver.received[i] as { at: number }).at);
        expect(Math.min(...spans)).toBeGreaterThanOrEqual(1_000);
      },
    );
  } finally {
    receiver.stop();
  }
}, 180_000);
