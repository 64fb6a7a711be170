import { DEFAULT_API_URL, type Env, commonSettings, consumerSettings, env, loadConfig } from 'core';

export const storeSettings = {
  ...commonSettings,
  ...consumerSettings,
  /** One API, or several instances (comma-separated) that share a database: batches are spread over them. */
  apiUrls: env.urlList('API_URL', [DEFAULT_API_URL], ['http:', 'https:']),
  apiToken: env.string('API_TOKEN', undefined, { maxLength: 512 }),
  group: env.string('STORE_GROUP', 'store', { maxLength: 200 }),
  /** The group on the alerts stream that stores every transition in the alert history. */
  historyGroup: env.string('HISTORY_GROUP', 'history', { maxLength: 200 }),
  /** Up to the API's batch limit: under load fewer, larger requests; at low rates one reading at once. */
  batchSize: env.int('BATCH_SIZE', 5_000, { min: 1, max: 5_000 }),
  /** Batches in flight: the API stores one while the next are read and sent, and commits those that wait together. */
  concurrency: env.int('CONCURRENCY', 4, { min: 1, max: 16 }),
  requestTimeoutMs: env.int('REQUEST_TIMEOUT_MS', 10_000, { min: 100 }),
  /** Recent entries kept in the stream for replay, even when every group has read them. */
  retainEntries: env.int('RETAIN_ENTRIES', 10_000, { min: 0, max: 1_000_000 }),
  trimIntervalMs: env.int('TRIM_INTERVAL_MS', 10_000, { min: 100 }),
  /** Off in production: the share of batches failed on purpose (0–1), for fault drills. */
  faultRate: env.number('FAULT_RATE', 0, { min: 0, max: 1 }),
};

export type StoreConfig = ReturnType<typeof loadConfig<typeof storeSettings>>;

/** @throws ConfigError naming every bad variable. */
export function loadStoreConfig(environment: Env): StoreConfig {
  return loadConfig(storeSettings, environment);
}
