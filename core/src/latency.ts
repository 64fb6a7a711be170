/**
 * A fixed-bucket latency histogram: constant memory however many samples, percentiles good to a
 * bucket (≈12% apart). Enough for a status line and a heartbeat; Prometheus buckets come from it.
 */
export function createLatencyHistogram(): LatencyHistogram {
  // 0.1 ms to ~10 min, each bucket 1.122× the last (20 per decade).
  const bounds = Array.from({ length: 136 }, (_, i) => 0.1 * 10 ** (i / 20));
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let count = 0;
  let sum = 0;
  let max = 0;
  return {
    observe(ms) {
      let low = 0;
      let high = bounds.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if ((bounds[mid] as number) < ms) low = mid + 1;
        else high = mid;
      }
      counts[low] = (counts[low] as number) + 1;
      count += 1;
      sum += ms;
      if (ms > max) max = ms;
    },
    percentile(p) {
      if (count === 0) return Number.NaN;
      const rank = Math.ceil((p / 100) * count);
      let seen = 0;
      for (let i = 0; i < counts.length; i++) {
        seen += counts[i] as number;
        if (seen >= rank) return Math.min(bounds[i] ?? max, max);
      }
      return max;
    },
    buckets() {
      // Cumulative counts at Prometheus-style bounds (ms), from the fine buckets below each bound.
      return PROMETHEUS_BOUNDS_MS.map((le) => {
        let total = 0;
        for (let i = 0; i < bounds.length && (bounds[i] as number) <= le * 1.0001; i++) total += counts[i] as number;
        return [le, total] as [number, number];
      });
    },
    get count() {
      return count;
    },
    get sumMs() {
      return sum;
    },
    summary() {
      const round = (ms: number) => (Number.isNaN(ms) ? null : Number(ms.toFixed(1)));
      return {
        count,
        meanMs: round(count ? sum / count : Number.NaN),
        p50Ms: round(this.percentile(50)),
        p99Ms: round(this.percentile(99)),
        maxMs: round(count ? max : Number.NaN),
      };
    },
  };
}

/** Upper bounds (ms) reported to Prometheus. */
export const PROMETHEUS_BOUNDS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];

export interface LatencyHistogram {
  observe(ms: number): void;
  /** [upper bound ms, cumulative count] at PROMETHEUS_BOUNDS_MS. */
  buckets(): Array<[number, number]>;
  readonly count: number;
  readonly sumMs: number;
  /** The upper bound of the bucket holding the p-th percentile (never above the true max). */
  percentile(p: number): number;
  summary(): { count: number; meanMs: number | null; p50Ms: number | null; p99Ms: number | null; maxMs: number | null };
}
