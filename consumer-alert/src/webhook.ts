import { type Alert, type RetryAfter, parseRetryAfter } from 'core';

/** The receiver is away or busy (network, timeout, 5xx, 429): retry, honouring Retry-After. */
export class WebhookRetryableError extends Error implements RetryAfter {
  override readonly name = 'WebhookRetryableError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The receiver refused the message for good (400/403/404/410…): dead-letter it. */
export class WebhookRejectedError extends Error {
  override readonly name = 'WebhookRejectedError';
}

const PRIVATE_HOSTS = [
  /^localhost$/i,
  /^127\./,
  /^0\.0\.0\.0$/,
  /^\[?::1\]?$/,
  /^\[?::\]?$/,
  /^169\.254\./, // link-local, including the 169.254.169.254 metadata service
  /^\[?fe80:/i,
  /^metadata(\.google\.internal)?$/i,
  /^\[?fd00:ec2::254\]?$/i,
];

/**
 * Checks ALERT_WEBHOOK_URL at start: http(s) only; loopback, link-local and cloud metadata
 * addresses refused unless allowPrivate (tests and local receivers). Hostnames are checked as
 * written, not resolved.
 * @returns an error message, or undefined when the URL is acceptable.
 */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http: or https:';
  if (!allowPrivate && PRIVATE_HOSTS.some((pattern) => pattern.test(url.hostname))) {
    return `points at a loopback, link-local or metadata address (${url.hostname}); set ALERT_WEBHOOK_ALLOW_PRIVATE=true if that is intended`;
  }
  return undefined;
}

const ICON = { firing: ':rotating_light:', resolved: ':white_check_mark:' } as const;

function alertLine(alert: Alert): string {
  const comparison = alert.state === 'firing' ? 'over' : 'back from';
  return `${alert.state.toUpperCase()} [${alert.severity}] ${alert.deviceId} ${alert.metric} = ${alert.value} (${comparison} ${alert.threshold}, rule ${alert.ruleId}) at ${new Date(alert.ts).toISOString()} — alert ${alert.id}`;
}

/** A human line for the console and for message text. */
export function describeAlert(alert: Alert): string {
  return alertLine(alert);
}

/**
 * A Slack-compatible message: `text` as the fallback (every alert id is in it, so a receiver can
 * dedupe a retried message), `blocks` for display. One alert, or a digest of several.
 */
export function slackMessage(alerts: readonly Alert[]): { text: string; blocks: unknown[]; alertIds: string[] } {
  const alertIds = alerts.map((alert) => alert.id);
  if (alerts.length === 1) {
    const alert = alerts[0] as Alert;
    return {
      text: alertLine(alert),
      alertIds,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: `${alert.state === 'firing' ? 'Alert' : 'Resolved'}: ${alert.deviceId} ${alert.metric}` } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: `*Device*\n${alert.deviceId}` },
            { type: 'mrkdwn', text: `*Metric*\n${alert.metric}` },
            { type: 'mrkdwn', text: `*Value*\n${alert.value} (threshold ${alert.threshold})` },
            { type: 'mrkdwn', text: `*Severity*\n${alert.severity}` },
            { type: 'mrkdwn', text: `*State*\n${ICON[alert.state]} ${alert.state}` },
            { type: 'mrkdwn', text: `*Time*\n${new Date(alert.ts).toISOString()}` },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `rule ${alert.ruleId} · alert ${alert.id} · reading ${alert.readingId}` }] },
      ],
    };
  }
  const firing = alerts.filter((alert) => alert.state === 'firing').length;
  // Slack allows 50 blocks; list the first 40 and count the rest (the text has them all).
  const shown = alerts.slice(0, 40);
  return {
    text: `${alerts.length} alerts (${firing} firing, ${alerts.length - firing} resolved):\n${alerts.map(alertLine).join('\n')}`,
    alertIds,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${alerts.length} alerts: ${firing} firing, ${alerts.length - firing} resolved` } },
      ...shown.map((alert) => ({ type: 'section', text: { type: 'mrkdwn', text: `${ICON[alert.state]} ${alertLine(alert)}` } })),
      ...(alerts.length > shown.length ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${alerts.length - shown.length} more (see the text)` }] }] : []),
    ],
  };
}

/** POSTs one message; resolves on 2xx, throws WebhookRetryableError or WebhookRejectedError. */
export async function postWebhook(url: string, message: { text: string; blocks: unknown[]; alertIds: string[] }, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new WebhookRetryableError(`webhook unreachable: ${(error as Error).message}`);
  }
  const body = (await response.text().catch(() => '')).slice(0, 200);
  if (response.ok) return;
  if (response.status === 429 || response.status === 408 || response.status >= 500) {
    throw new WebhookRetryableError(`webhook answered ${response.status}: ${body}`, parseRetryAfter(response.headers.get('retry-after')));
  }
  throw new WebhookRejectedError(`webhook answered ${response.status}: ${body || response.statusText}`);
}
