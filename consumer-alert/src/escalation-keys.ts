/**
 * The firings escalation follows (a sorted set `<rule>|<device>` → when it fired) and the steps
 * raised (a hash `<rule>|<device>` → step), beside the alerts stream: kept by the evaluation script
 * with each transition, read by the escalation sweep (lua/escalate-alerts.lua).
 */
export const escalationKeys = (alertsStream: string) => ({
  firing: `${alertsStream}:escalation:firing`,
  raised: `${alertsStream}:escalation:raised`,
});
