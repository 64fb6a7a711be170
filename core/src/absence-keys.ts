/**
 * An absence rule's keys, beside the alerts stream: the watch (sorted set, member → arrival of its
 * newest reading), its newest readings (hash), its silences (hash), and the reminders due (sorted
 * set, member → when, on Redis's clock, for rules with repeatAfterMs). A member is a device, or
 * `device|metric` for a rule that names a metric (`|` is in no device id or metric).
 */
export function absenceKeys(alertsStream: string, ruleId: string) {
  const base = `${alertsStream}:absence:${ruleId}`;
  return {
    watch: `${base}:watch`,
    newest: `${base}:newest`,
    silent: `${base}:silent`,
    reminders: `${base}:reminders`,
  };
}

export const absenceMemberOf = (perMetric: boolean, deviceId: string, metric: string) =>
  perMetric ? `${deviceId}|${metric}` : deviceId;
