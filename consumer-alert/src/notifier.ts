import {
  type Alert,
  type ConsumerEntry,
  type EntryOutcome,
  type Logger,
  type Silence,
  createLatencyHistogram,
  entryTimeMs,
  silencing,
} from 'core';
import { describeAlert } from './slack-message.ts';
import type { DeliveryLog } from './delivery-log.ts';
import { type WebhookFormat, webhookMessage } from './webhook-formats.ts';
import { WebhookRejectedError, WebhookRetryableError, postWebhook } from './webhook.ts';
import { type WebhookPace, localPace } from './webhook-pace.ts';
import { UnresolvedHostError, resolvedTargetProblem } from './webhook-target.ts';

export interface NotifierOptions {
  logger: Logger;
  webhookUrl?: string;
  /** ALERT_WEBHOOK_ALLOW_PRIVATE: skip the check of where the webhook host resolves before each message. */
  allowPrivate?: boolean;
  /** At most one message per this interval to the webhook (Slack allows 1/s). Default 1,000 ms. */
  minIntervalMs?: number;
  /** ALERT_WEBHOOK_FORMAT. Default slack. */
  format?: WebhookFormat;
  /** What the webhook already got, so that a rebuilt notify group does not send it twice. */
  deliveries?: DeliveryLog;
  /** The silences (read once per batch): an alert raised while one covering it was in force is not sent. */
  silences?: () => Promise<Silence[]>;
  /** Whose pace: shared by every instance through Redis (the service), or this process's alone. */
  pace?: WebhookPace;
  timeoutMs?: number;
  /** Where the readable alert lines go. Default: stdout. */
  print?: (line: string) => void;
  colour?: boolean;
}

export interface NotifierCounters {
  printed: number;
  sent: number;
  messages: number;
  digests: number;
  rejected: number;
  /** Alerts acknowledged without sending: the webhook had them already (a rebuilt group). */
  alreadyDelivered: number;
  /** Alerts not sent: a silence covered them. */
  silenced: number;
  /** Alerts not sent: a flapping device's transitions between its two notices. */
  quiet: number;
}

const COLOURS = { firing: '\x1b[31m', resolved: '\x1b[32m' } as const;
const PRINTED_MEMORY = 10_000;

/**
 * The `notify` group's handler: prints each alert once, then sends the batch to the webhook as
 * one message (a digest when there are several: a backlog becomes one message, not a flood),
 * paced to one message per `minIntervalMs`. Acked only after a 2xx; a refused message is
 * dead-lettered; anything else is retried by the consumer.
 */
/** Why a quiet alert is held back, from its note: from the past, imported to be recorded, or flapping. */
function quietWhy(note: string | undefined): string {
  if (note?.startsWith('from the past')) return 'quiet: from the past';
  if (note?.startsWith('imported with alerts=record')) return 'quiet: imported with alerts=record';
  return 'quiet: flapping';
}

export function createNotifier(options: NotifierOptions) {
  const {
    logger,
    webhookUrl,
    minIntervalMs = 1_000,
    timeoutMs = 10_000,
    colour = Boolean(process.stdout.isTTY),
  } = options;
  // A batch's lines in one write, not one per alert: a storm prints thousands a second.
  const printLines = (lines: readonly string[]) => {
    if (options.print) for (const line of lines) options.print(line);
    else if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  };
  const counters: NotifierCounters = {
    printed: 0,
    sent: 0,
    messages: 0,
    digests: 0,
    rejected: 0,
    alreadyDelivered: 0,
    silenced: 0,
    quiet: 0,
  };
  const delivery = createLatencyHistogram();
  // Ids already printed, so a retried batch does not print its alerts again (bounded).
  const printed = new Set<string>();
  const pace = options.pace ?? localPace(minIntervalMs);

  /**
   * Where the host resolves now, before every message (DNS can change after the start-up check).
   * A host that resolves nowhere or to an internal address gets nothing: the alerts stay pending
   * (retried, /health degraded as the notify group stalls) rather than go there or be dropped.
   */
  const checkTarget = async (url: string) => {
    if (options.allowPrivate) return;
    let problem: string | undefined;
    try {
      problem = await resolvedTargetProblem(url, false);
    } catch (error) {
      if (!(error instanceof UnresolvedHostError)) throw error;
      problem = error.message;
    }
    if (!problem) return;
    logger.error('alert_webhook_target_refused', { error: problem });
    throw new WebhookRetryableError(`ALERT_WEBHOOK_URL: ${problem}`);
  };

  return {
    counters,
    delivery,
    async handle(batch: ReadonlyArray<ConsumerEntry<Alert>>): Promise<EntryOutcome[] | undefined> {
      const silences = (await options.silences?.()) ?? [];
      // Held back: silenced when raised, or quiet (recorded in the history all the same).
      const held = new Map<string, { why: string; counter: 'silenced' | 'quiet' }>();
      for (const { entryId, value: alert } of batch) {
        const silence = silencing(silences, alert, entryTimeMs(entryId));
        if (silence) held.set(alert.id, { why: `silenced by ${silence.id}`, counter: 'silenced' });
        else if (alert.quiet)
          held.set(alert.id, {
            why: quietWhy(alert.note),
            counter: 'quiet',
          });
      }
      const lines: string[] = [];
      for (const { value: alert } of batch) {
        if (printed.has(alert.id)) continue;
        printed.add(alert.id);
        if (printed.size > PRINTED_MEMORY) printed.delete(printed.values().next().value as string);
        const hold = held.get(alert.id);
        if (hold) counters[hold.counter] += 1;
        const line = `${describeAlert(alert)}${hold ? ` (${hold.why}, not sent)` : ''}`;
        lines.push(colour ? `${COLOURS[alert.state]}${line}\x1b[0m` : line);
        logger.info(alert.state === 'firing' ? 'alert_fired' : 'alert_resolved', {
          ...alert,
          ...(hold ? { held: hold.why } : {}),
        });
        counters.printed += 1;
      }
      printLines(lines);
      if (!webhookUrl) return undefined;

      const delivered =
        (await options.deliveries?.delivered(batch.map((entry) => entry.value.id))) ?? new Set<string>();
      const alerts = batch
        .map((entry) => entry.value)
        .filter((alert) => !delivered.has(alert.id) && !held.has(alert.id));
      if (delivered.size > 0) {
        counters.alreadyDelivered += delivered.size;
        logger.info('alert_already_delivered', { alertIds: [...delivered] });
      }
      if (alerts.length === 0) return undefined;
      await pace.turn();
      await checkTarget(webhookUrl);
      try {
        await postWebhook(webhookUrl, webhookMessage(options.format ?? 'slack', alerts), timeoutMs);
      } catch (error) {
        if (!(error instanceof WebhookRejectedError)) throw error;
        counters.rejected += alerts.length;
        logger.error('alert_webhook_rejected', { error: error.message, alertIds: alerts.map((alert) => alert.id) });
        return batch.map((entry) => (delivered.has(entry.value.id) ? 'done' : { dead: error.message }));
      }
      await options.deliveries?.record(alerts.map((alert) => alert.id));
      const now = Date.now();
      for (const alert of alerts) delivery.observe(now - alert.ts);
      counters.sent += alerts.length;
      counters.messages += 1;
      if (alerts.length > 1) counters.digests += 1;
      logger.info('alert_sent', { alerts: alerts.length, alertIds: alerts.map((alert) => alert.id) });
      return undefined;
    },
  };
}
