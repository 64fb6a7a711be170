import { expect, it } from 'bun:test';
import { createLatencyHistogram } from './latency.ts';

it('gives percentiles within a bucket (~12%) of the true ones, in constant memory', () => {
  const histogram = createLatencyHistogram();
  for (let ms = 1; ms <= 1_000; ms++) histogram.observe(ms);
  const p50 = histogram.percentile(50);
  const p99 = histogram.percentile(99);
  expect(p50).toBeGreaterThanOrEqual(500);
  expect(p50).toBeLessThan(500 * 1.13);
  expect(p99).toBeGreaterThanOrEqual(990);
  expect(p99).toBeLessThanOrEqual(1_000);
  expect(histogram.summary()).toMatchObject({ count: 1_000, meanMs: 500.5, maxMs: 1_000 });
  expect(createLatencyHistogram().summary().p99Ms).toBeNull();
});
