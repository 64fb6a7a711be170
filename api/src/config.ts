import { ConfigError, type Env, MIN_SECRET_BYTES, commonSettings, env, loadConfig } from 'core';
import { DEFAULT_DATABASE_PATH } from './storage/sqlite/client.ts';

/** Live-stream clients at once, in total and per remote address (beyond: 429 with Retry-After). */
export const DEFAULT_MAX_STREAM_CLIENTS = 1_000;
export const DEFAULT_MAX_STREAM_CLIENTS_PER_IP = 20;

/** Room for 5,000 readings in a batch body, with long ids and units. */
export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;

export const apiSettings = {
  ...commonSettings,
  port: env.int('PORT', 3000, { min: 0, max: 65_535 }),
  host: env.string('HOST', '0.0.0.0'),
  databaseUrl: env.string('DATABASE_URL', DEFAULT_DATABASE_PATH),
  /** PostgreSQL only: connections per API instance. */
  databasePoolSize: env.int('DATABASE_POOL_SIZE', 10, { min: 1, max: 1_000 }),
  /** Long reads (listings, exports, statistics) at once: SQLite reader threads, PostgreSQL read pool. */
  databaseReaders: env.int('DATABASE_READERS', 2, { min: 1, max: 64 }),
  /** SQLite on Linux: how many nice levels below the writer and the event loop the reader threads run. */
  databaseReaderNice: env.int('DATABASE_READER_NICE', 10, { min: 0, max: 19 }),
  /** The longest a statement (PostgreSQL) or a call on a SQLite thread may take before a 503. */
  // At most 240 s: a connection waits at most 255 s (Bun's limit) for its answer, which must be
  // the budget's 503, not a dropped connection.
  databaseStatementTimeoutMs: env.int('DATABASE_STATEMENT_TIMEOUT_MS', 30_000, { min: 100, max: 240_000 }),
  apiToken: env.string('API_TOKEN', undefined, { maxLength: 512 }),
  readToken: env.string('READ_TOKEN', undefined, { maxLength: 512 }),
  /** Signs and checks device tokens (HS256); at least 32 bytes. */
  tokenSecret: env.string('TOKEN_SECRET', undefined, { maxLength: 1_024 }),
  /** Checks device tokens signed with the matching Ed25519 private key (PEM, SPKI). */
  tokenPublicKey: env.string('TOKEN_PUBLIC_KEY', undefined, { maxLength: 4_096 }),
  /** The line protocol tag naming a point's device (`device` falls back to `host`). */
  lineProtocolDeviceTag: env.string('LINE_PROTOCOL_DEVICE_TAG', 'device', { maxLength: 64 }),
  maxBodyBytes: env.int('MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, { min: 1_024, max: 1_073_741_824 }),
  maxStreamClients: env.int('MAX_STREAM_CLIENTS', DEFAULT_MAX_STREAM_CLIENTS, { min: 0, max: 1_000_000 }),
  maxStreamClientsPerIp: env.int('MAX_STREAM_CLIENTS_PER_IP', DEFAULT_MAX_STREAM_CLIENTS_PER_IP, {
    min: 0,
    max: 1_000_000,
  }),
  /** Services /health expects at least one live instance of (comma-separated; empty for none). */
  expectedWorkers: env.string('EXPECTED_WORKERS', 'consumer-store,consumer-alert'),
  lagDegraded: env.int('LAG_DEGRADED', 100_000, { min: 1 }),
  /** An entry waiting longer than this for a group (unread or unacknowledged) makes /health degraded. */
  stallDegradedMs: env.int('STALL_DEGRADED_MS', 30_000, { min: 100 }),
  /** Uploads waiting to be imported (POST /imports). */
  importDir: env.string('IMPORT_DIR', 'data/imports'),
  importMaxBytes: env.int('IMPORT_MAX_BYTES', 10 * 1024 ** 3, { min: 1_024, max: 1024 ** 4 }),
  /** Imports queued or running on one API instance at once; past it 429. */
  importMaxJobs: env.int('IMPORT_MAX_JOBS', 20, { min: 1, max: 1_000 }),
  /** Entries the stream's groups have not finished with, past which imports wait. */
  importMaxBacklog: env.int('IMPORT_MAX_BACKLOG', 200_000, { min: 1_000 }),
  /**
   * Raw readings measured longer ago than this are removed (their rollups stay); 0 keeps every
   * reading. Unset: every reading is kept where the store compresses them (SQLite), 30 days where
   * it keeps rows only (PostgreSQL, so far): see rawRetentionDays.
   */
  retainRawDays: env.int('RETAIN_RAW_DAYS', undefined, { min: 0, max: 36_500 }),
  /**
   * Readings measured longer ago than this move into compressed chunks, whole days at a time
   * (SQLite); 0 keeps them as rows. Unset: 24 (see reading-compression.ts).
   */
  compressAfterHours: env.int('COMPRESS_AFTER_HOURS', undefined, { min: 0, max: 876_000 }),
  /** Rollups older than this are removed; unset keeps them forever. At least RETAIN_RAW_DAYS. */
  retainRollupDays: env.int('RETAIN_ROLLUP_DAYS', undefined, { min: 1, max: 36_500 }),
  /** How often hour and day rollups are derived from the minutes of hours that changed. */
  rollupCompactMs: env.int('ROLLUP_COMPACT_MS', 10_000, { min: 100, max: 3_600_000 }),
  /** Alert history older than this (by the reading's time) is removed. */
  retainAlertDays: env.int('RETAIN_ALERT_DAYS', 365, { min: 1, max: 36_500 }),
  /** Off in production: the share of writes answered 503 on purpose (0–1), for fault drills. */
  faultRate: env.number('FAULT_RATE', 0, { min: 0, max: 1 }),
};

export type ApiConfig = ReturnType<typeof loadConfig<typeof apiSettings>>;

/** @throws ConfigError naming every bad variable. */
export function loadApiConfig(environment: Env): ApiConfig {
  const config = loadConfig(apiSettings, environment);
  if (config.tokenSecret !== undefined && Buffer.byteLength(config.tokenSecret) < MIN_SECRET_BYTES) {
    throw new ConfigError([
      { key: 'TOKEN_SECRET', message: `must be at least ${MIN_SECRET_BYTES} bytes (openssl rand -base64 32)` },
    ]);
  }
  if (
    config.retainRollupDays !== undefined &&
    config.retainRawDays !== undefined &&
    config.retainRawDays > 0 &&
    config.retainRollupDays < config.retainRawDays
  ) {
    throw new ConfigError([
      {
        key: 'RETAIN_ROLLUP_DAYS',
        message: `must be at least RETAIN_RAW_DAYS (${config.retainRawDays}): /stats reads rollups, and would lose days whose readings are still kept`,
      },
    ]);
  }
  return config;
}

/** Raw readings kept where RETAIN_RAW_DAYS is unset and the store keeps rows only. */
export const ROW_STORE_RETAIN_DAYS = 30;

/**
 * The days raw readings are kept, 0 for all of them: RETAIN_RAW_DAYS, or unset, every reading
 * where the store compresses (a reading costs a chunk's ~15 bytes) and 30 days where it keeps
 * rows only (hundreds of bytes a reading).
 */
export function rawRetentionDays(config: Pick<ApiConfig, 'retainRawDays'>, compresses: boolean): number {
  return config.retainRawDays ?? (compresses ? 0 : ROW_STORE_RETAIN_DAYS);
}
