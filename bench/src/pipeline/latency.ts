/**
 * Latency at a steady rate: the producer publishes R readings/s from 1,000 devices for S seconds
 * while both groups consume. Lead time = reading ts → row committed (`stored_at - ts`); detection
 * latency = reading ts → alert written (the alert entry id's time; an alert carries its reading's ts).
 */
import { decodeAlert, entryTimeMs } from 'core';
import { type Measurement, backendLabel, formatLatency, int, summarize } from './report.ts';
import { waitFor } from 'core/testing';
import { type StackOptions, startStack } from './stack.ts';

const LEAD_TARGETS_MS: Record<number, number> = { 1_000: 50, 20_000: 500 };

export async function latencyScenario(options: {
  rate: number;
  seconds: number;
  stack?: StackOptions;
}): Promise<Measurement[]> {
  const { rate, seconds } = options;
  const count = rate * seconds;
  const stack = await startStack({ RETAIN_ALERTS: '1000000' }, options.stack);
  try {
    const producer = stack.startProducer({ RATE: String(rate), COUNT: String(count), VALUE_MIN: '0', VALUE_MAX: '51' });
    const exitCode = await producer.exited;
    if (exitCode !== 0) throw new Error(`producer exited with ${exitCode}: ${producer.output().slice(-2_000)}`);
    await waitFor(() => stack.drained(['store', 'alerts']), {
      timeoutMs: 120_000,
      intervalMs: 50,
      what: `${count} readings stored and evaluated`,
    });
    const stored = await stack.stored();
    const lead = summarize(stored.leads);
    const alerts = await stack.redis.xrange('alerts', '-', '+');
    const detection = summarize(alerts.map(([id, fields]) => entryTimeMs(id) - decodeAlert(fields).ts));
    const target = LEAD_TARGETS_MS[rate];
    const label = `${int(rate)}/s for ${seconds} s${backendLabel(options.stack)}`;
    return [
      {
        scenario: 'latency',
        name: `lead time at ${label} (ts → committed)`,
        result: formatLatency(lead),
        ...(target === undefined
          ? {}
          : { target: `p99 ≤ ${target} ms`, met: lead.p99 <= target && lead.count === count }),
        data: { rate, seconds, ...lead },
      },
      {
        scenario: 'latency',
        name: `detection latency at ${label} (ts → alert written)`,
        result: formatLatency(detection),
        data: { rate, seconds, ...detection },
      },
    ];
  } finally {
    await stack.stop();
  }
}
