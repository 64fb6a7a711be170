import { createHash } from 'node:crypto';
import type { Alert } from 'core';
import { type SlackMessage, describeAlert, slackMessage } from './slack-message.ts';

/** ALERT_WEBHOOK_FORMAT: what the receiver is built for. */
export const WEBHOOK_FORMATS = ['slack', 'alertmanager', 'json'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Any message body: every format carries every alert id, for receivers that dedupe a resend. */
export type WebhookMessage = { alertIds: string[] } & Record<string, unknown>;

/** A stable id of one alert's series (rule, device, metric), as Alertmanager's fingerprint is. */
function fingerprint(alert: Alert): string {
  return createHash('sha256')
    .update(`${alert.ruleId}\u0000${alert.deviceId}\u0000${alert.metric}`)
    .digest('hex')
    .slice(0, 16);
}

/**
 * The Alertmanager webhook format (version 4), for receivers built for it (Grafana OnCall,
 * PagerDuty's and Opsgenie's integrations, alertmanager-webhook bridges): one group per message;
 * a firing alert has no end yet (the zero time, as Alertmanager sends it), a resolved one ends at
 * its reading.
 */
function alertmanagerMessage(alerts: readonly Alert[]): WebhookMessage {
  const firing = alerts.some((alert) => alert.state === 'firing');
  const items = alerts.map((alert) => ({
    status: alert.state,
    labels: { alertname: alert.ruleId, device: alert.deviceId, metric: alert.metric, severity: alert.severity },
    annotations: {
      summary: describeAlert(alert),
      ...(alert.value === undefined ? {} : { value: String(alert.value), threshold: String(alert.threshold) }),
      alertId: alert.id,
      readingId: alert.readingId,
      ...(alert.note ? { note: alert.note } : {}),
    },
    startsAt: new Date(alert.ts).toISOString(),
    endsAt: alert.state === 'resolved' ? new Date(alert.ts).toISOString() : '0001-01-01T00:00:00Z',
    fingerprint: fingerprint(alert),
  }));
  return {
    version: '4',
    groupKey: '{}:{}',
    status: firing ? 'firing' : 'resolved',
    receiver: 'telemetry',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    truncatedAlerts: 0,
    alerts: items,
    alertIds: alerts.map((alert) => alert.id),
  };
}

/** The alerts as the contract has them, for receivers of our own. */
function jsonMessage(alerts: readonly Alert[]): WebhookMessage {
  return { alerts: [...alerts], alertIds: alerts.map((alert) => alert.id) };
}

export function webhookMessage(format: WebhookFormat, alerts: readonly Alert[]): WebhookMessage | SlackMessage {
  if (format === 'alertmanager') return alertmanagerMessage(alerts);
  if (format === 'json') return jsonMessage(alerts);
  return slackMessage(alerts);
}
