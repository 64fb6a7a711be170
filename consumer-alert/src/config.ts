import { ConfigError, type Env, commonSettings, consumerSettings, env, loadConfig } from 'core';
import { WEBHOOK_FORMATS } from './webhook-formats.ts';
import { UnresolvedHostError, resolvedTargetProblem, webhookUrlProblem } from './webhook-target.ts';

export const alertSettings = {
  ...commonSettings,
  ...consumerSettings,
  threshold: env.number('ALERT_THRESHOLD', 50),
  rulesFile: env.string('ALERT_RULES', undefined),
  /** How often the rule set in Redis is checked for a change (PUT /rules). */
  rulesPollMs: env.int('ALERT_RULES_POLL_MS', 1_000, { min: 50, max: 60_000 }),
  webhookUrl: env.string('ALERT_WEBHOOK_URL', undefined, { maxLength: 2_000 }),
  allowPrivateWebhook: env.bool('ALERT_WEBHOOK_ALLOW_PRIVATE', false),
  webhookFormat: env.oneOf('ALERT_WEBHOOK_FORMAT', 'slack', WEBHOOK_FORMATS),
  webhookMinIntervalMs: env.int('ALERT_WEBHOOK_MIN_INTERVAL_MS', 1_000, { min: 0 }),
  webhookTimeoutMs: env.int('ALERT_WEBHOOK_TIMEOUT_MS', 10_000, { min: 100 }),
  alertsGroup: env.string('ALERTS_GROUP', 'alerts', { maxLength: 200 }),
  /** The store group (as consumer-store's STORE_GROUP): its verdict on conflicts is waited for. */
  storeGroup: env.string('STORE_GROUP', 'store', { maxLength: 200 }),
  /** How long after a reading arrives alerting waits for storage's verdict on it (0: it does not). */
  waitForStoreMs: env.int('ALERT_WAIT_FOR_STORE_MS', 5_000, { min: 0, max: 600_000 }),
  /** A reading arriving longer than this after it was taken alerts quiet (recorded, not sent); 0 sends all. */
  notifyMaxAgeMs: env.int('ALERT_NOTIFY_MAX_AGE_MS', 900_000, { min: 0 }),
  notifyGroup: env.string('NOTIFY_GROUP', 'notify', { maxLength: 200 }),
  /** Readings per read at most; under a backlog 5,000 needs a fifth of the round trips of 1,000. */
  batchSize: env.int('BATCH_SIZE', 5_000, { min: 1, max: 10_000 }),
  /** Alerts per webhook message at most: a bigger backlog becomes several digests. */
  digestSize: env.int('ALERT_DIGEST_SIZE', 100, { min: 1, max: 1_000 }),
  /** Recent alerts kept in the alerts stream once every group has them. */
  retainAlerts: env.int('RETAIN_ALERTS', 10_000, { min: 0, max: 1_000_000 }),
};

export type AlertConfig = ReturnType<typeof loadConfig<typeof alertSettings>>;

/** @throws ConfigError naming every bad variable, the webhook URL included. */
export function loadAlertConfig(environment: Env): AlertConfig {
  const config = loadConfig(alertSettings, environment);
  const problem = config.webhookUrl && webhookUrlProblem(config.webhookUrl, config.allowPrivateWebhook);
  if (problem) throw new ConfigError([{ key: 'ALERT_WEBHOOK_URL', message: problem }]);
  return config;
}

/**
 * Where the webhook host resolves at start: an internal address stops the start like a bad URL.
 * A name that does not resolve yet does not (DNS may be late); each delivery checks again.
 * @throws ConfigError naming ALERT_WEBHOOK_URL.
 */
export async function checkWebhookTarget(config: AlertConfig): Promise<void> {
  if (!config.webhookUrl) return;
  try {
    const problem = await resolvedTargetProblem(config.webhookUrl, config.allowPrivateWebhook);
    if (problem) throw new ConfigError([{ key: 'ALERT_WEBHOOK_URL', message: problem }]);
  } catch (error) {
    if (!(error instanceof UnresolvedHostError)) throw error;
  }
}
