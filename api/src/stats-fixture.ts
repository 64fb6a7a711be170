/**
 * The hand-made readings the /stats tests (HTTP) and the storage conformance suite (every backend)
 * both check, and the statistics worked out by hand for them: minute 10:01 empty; 20 and 30 tie as
 * most frequent; device-a has one value over 50.
 */
export const at = (hhmmss: string) => `2026-11-22T${hhmmss}.000Z`;

export const STATS_FIXTURE = [
  { deviceId: 'device-a', value: 10, ts: at('10:00:05') },
  { deviceId: 'device-b', value: 20, ts: at('10:00:20') },
  { deviceId: 'device-a', value: 20, ts: at('10:00:59') },
  { deviceId: 'device-b', value: 30, ts: at('10:02:00') },
  { deviceId: 'device-b', value: 30, ts: at('10:02:30') },
  { deviceId: 'device-a', value: 60, ts: at('10:03:10'), metric: 'temp' },
] as const;

/** Everything /stats answers for the whole fixture at threshold 50, but the per-device page. */
export const FIXTURE_TOTALS = {
  count: 6,
  min: 10,
  max: 60,
  mean: 170 / 6,
  mostFrequent: { values: [20, 30], count: 2, truncated: false },
  readingsPerMinute: [
    { minute: at('10:00:00'), count: 3 },
    { minute: at('10:01:00'), count: 0 },
    { minute: at('10:02:00'), count: 2 },
    { minute: at('10:03:00'), count: 1 },
  ],
  readingsPerMinuteTruncated: false,
  series: {
    bucket: 'minute' as const,
    points: [
      { start: at('10:00:00'), count: 3, min: 10, max: 20, mean: 50 / 3 },
      { start: at('10:01:00'), count: 0, min: null, max: null, mean: null },
      { start: at('10:02:00'), count: 2, min: 30, max: 30, mean: 30 },
      { start: at('10:03:00'), count: 1, min: 60, max: 60, mean: 60 },
    ],
    truncated: false,
  },
  threshold: 50,
  overThresholdExact: true,
};

/** The fixture's devices at threshold 50, in device order. */
export const FIXTURE_DEVICES = [
  { deviceId: 'device-a', count: 3, min: 10, max: 60, mean: 30, overThreshold: 1 },
  { deviceId: 'device-b', count: 3, min: 20, max: 30, mean: 80 / 3, overThreshold: 0 },
];
