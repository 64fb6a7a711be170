import type { Alert } from 'core';

/**
 * Slack's limits (Block Kit and chat.postMessage): a message past any of them is refused with
 * 400, which would dead-letter the alert, so every field is cut to fit whatever the input.
 */
export const SLACK_LIMITS = { header: 150, sectionText: 3_000, field: 2_000, text: 40_000, blocks: 50 } as const;
/** Alerts listed one per block in a digest; the rest are counted (the text lists more). */
const DIGEST_BLOCKS = 40;

const ICON = { firing: ':rotating_light:', resolved: ':white_check_mark:' } as const;

/** `text` cut to `max` characters, marked with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Device ids and metrics are the devices' words: in mrkdwn, `<!channel>` would ping everyone and
 * `<http://…|click>` would draw a link, so the three control characters are escaped.
 */
function mrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * What happened, by the alert's kind: a value against a threshold (`= 61.5 (over 50`), or for
 * kinds no reading triggers (absence) the device's silence (`silent`, `reporting again`).
 */
function condition(alert: Alert): string {
  if (alert.value === undefined) return alert.state === 'firing' ? 'silent (' : 'reporting again (';
  return `= ${alert.value} (${alert.state === 'firing' ? 'over' : 'back from'} ${alert.threshold}, `;
}

/** A human line for the console and for message text. */
export function describeAlert(alert: Alert): string {
  return `${alert.state.toUpperCase()} [${alert.severity}] ${alert.deviceId} ${alert.metric} ${condition(alert)}rule ${alert.ruleId}) at ${new Date(alert.ts).toISOString()}${alert.note ? ` — ${alert.note}` : ''} — alert ${alert.id}`;
}

/** The Value field of a message: the value and threshold, or for absence what the silence is. */
function valueText(alert: Alert): string {
  if (alert.value === undefined) return alert.state === 'firing' ? 'no readings (silent)' : 'reporting again';
  return `${alert.value} (threshold ${alert.threshold})`;
}

/** Lines joined until `max` characters, then "… and N more". */
function joinWithin(header: string, lines: readonly string[], max: number): string {
  let text = header;
  for (const [index, line] of lines.entries()) {
    const rest = lines.length - index;
    // Room kept for the tail that counts what did not fit.
    if (text.length + 1 + line.length > max - 40) return `${text}\n… and ${rest} more`;
    text += `\n${line}`;
  }
  return text;
}

export type SlackMessage = {
  text: string;
  blocks: unknown[];
  /** Every alert id in the message, so a receiver can dedupe a retried one. */
  alertIds: string[];
};

/**
 * A Slack-compatible message: `text` as the fallback, `blocks` for display; one alert, or a
 * digest of several. Within Slack's limits for any input.
 */
export function slackMessage(alerts: readonly Alert[]): SlackMessage {
  const alertIds = alerts.map((alert) => alert.id);
  if (alerts.length === 1) {
    const alert = alerts[0] as Alert;
    const field = (label: string, value: string) => ({
      type: 'mrkdwn',
      text: clip(`*${label}*\n${mrkdwn(value)}`, SLACK_LIMITS.field),
    });
    return {
      text: clip(mrkdwn(describeAlert(alert)), SLACK_LIMITS.text),
      alertIds,
      blocks: [
        {
          type: 'header',
          text: {
            type: 'plain_text',
            text: clip(
              `${alert.state === 'firing' ? 'Alert' : 'Resolved'}: ${alert.deviceId} ${alert.metric}`,
              SLACK_LIMITS.header,
            ),
          },
        },
        {
          type: 'section',
          fields: [
            field('Device', alert.deviceId),
            field('Metric', alert.metric),
            field('Value', valueText(alert)),
            field('Severity', alert.severity),
            { type: 'mrkdwn', text: `*State*\n${ICON[alert.state]} ${alert.state}` },
            field('Time', new Date(alert.ts).toISOString()),
          ],
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: clip(
                mrkdwn(`rule ${alert.ruleId} · alert ${alert.id} · reading ${alert.readingId}`),
                SLACK_LIMITS.field,
              ),
            },
          ],
        },
      ],
    };
  }
  const firing = alerts.filter((alert) => alert.state === 'firing').length;
  const summary = `${alerts.length} alerts: ${firing} firing, ${alerts.length - firing} resolved`;
  const shown = alerts.slice(0, DIGEST_BLOCKS);
  return {
    text: joinWithin(
      `${summary}:`,
      alerts.map((alert) => mrkdwn(describeAlert(alert))),
      SLACK_LIMITS.text,
    ),
    alertIds,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(summary, SLACK_LIMITS.header) } },
      ...shown.map((alert) => ({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: clip(`${ICON[alert.state]} ${mrkdwn(describeAlert(alert))}`, SLACK_LIMITS.sectionText),
        },
      })),
      ...(alerts.length > shown.length
        ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `… and ${alerts.length - shown.length} more` }] }]
        : []),
    ],
  };
}
