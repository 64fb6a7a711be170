/**
 * A member of an absence rule's keys (keys.ts `alertKeys().absence`: the watch, a sorted set,
 * member → arrival of its newest reading; its newest readings and its silences, hashes; the
 * reminders due, a sorted set, member → when, on Redis's clock, for rules with repeatAfterMs):
 * a device, or `device|metric` for a rule that names a metric (`|` is in no device id or metric).
 */
export const absenceMemberOf = (perMetric: boolean, deviceId: string, metric: string) =>
  perMetric ? `${deviceId}|${metric}` : deviceId;
