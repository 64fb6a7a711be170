// First of all: the repository's .env, whatever the working directory (see root-env.ts).
import { loadRootEnv } from './root-env.ts';

loadRootEnv();

export { InvalidEventError } from './contracts/errors.ts';
export { type FieldList, type FieldRecord, parseEpochMs, parseFiniteNumber } from './contracts/fields.ts';
export { parseIsoTime } from './contracts/iso-time.ts';
export { readingFromInput } from './contracts/reading-input.ts';
export {
  READING_VERSION,
  KNOWN_READING_VERSIONS,
  NAME_PATTERN,
  MAX_FUTURE_MS,
  UNIT_PATTERN,
  ReadingSchema,
  type Reading,
  encodeReading,
  encodeReadingV1,
  encodeReadingPayload,
  decodeReading,
  validateReading,
  fromReadingArray,
} from './contracts/reading.ts';
export {
  ALERT_VERSION,
  AlertSchema,
  AlertState,
  AlertSeverity,
  type Alert,
  encodeAlert,
  decodeAlert,
} from './contracts/alert.ts';
export {
  type DecodedReadingItem,
  ALERT_MODES,
  type AlertMode,
  FRAME_VERSION,
  MAX_FRAME_READINGS,
  decodeReadingItems,
  frameAlertMode,
  decodeReadings,
  encodeReadingFrame,
} from './contracts/reading-frame.ts';
export { eventIdFor, newEventId } from './ids.ts';
export { compareEntryIds, entryTimeMs, entryTimes } from './stream-ids.ts';
export { neutraliseCsvCell, neutraliseCsvLine } from './csv-safety.ts';
export { ConfigError, type ConfigProblem, type Env, type Setting, env, loadConfig } from './config.ts';
export { createLogger, LOG_LEVELS, type LogLevel, type Logger, type LoggerOptions, type LogFields } from './logger.ts';
export {
  answersPing,
  backoffMs,
  createRedis,
  createRedisPerPartition,
  infoField,
  withShortConnection,
  reconnectDelayMs,
  type RedisConnectionOptions,
} from './redis.ts';
export { commonSettings } from './settings.ts';
export { misspeltSettings } from './misspelt-settings.ts';
export { dataNodeArgs, sentinelConfig } from './redis-ha-layout.ts';
export {
  createConsumer,
  emptyConsumerStats,
  StopConsumingError,
  type Consumer,
  type ConsumerEntry,
  type ConsumerOptions,
  type ConsumerStats,
  type DecodedItem,
  type EntryOutcome,
  type RetryAfter,
} from './consumer/consumer.ts';
export {
  queueDeadLetterEntries,
  readDeadLetters,
  type DeadLetter,
  type DeadLetterRecord,
} from './consumer/dead-letter.ts';
export { PROMETHEUS_BOUNDS_MS, createLatencyHistogram, type LatencyHistogram } from './latency.ts';
export { startTrimmer, trimSafely } from './consumer/trimmer.ts';
export { type Heartbeat, type HeartbeatOptions, startHeartbeat } from './heartbeat.ts';
export { createSleeper } from './sleeper.ts';
export { configOrExit } from './config-or-exit.ts';
export { cliError, cliNumber, parseCli, type CliSpec } from './cli.ts';
export { loadRootEnv, parseEnvFile, ROOT_ENV_FILE } from './root-env.ts';
export { DEFAULT_FRAME_READINGS, publishReadings } from './publish-readings.ts';
export { onShutdown } from './shutdown.ts';
export { type ConsumerState, type GroupState, groupsCaughtUp, readConsumers, readGroups } from './consumer/groups.ts';
export {
  STORAGE_FIRST_BEHIND_ENTRIES,
  STORAGE_FIRST_BEHIND_MS,
  storageFirst,
  storageFirstOver,
} from './consumer/storage-first.ts';
export { consumeEach, consumeEachPartition, sumStats } from './consumer/each-partition.ts';
export { parseRetryAfter } from './retry-after.ts';
export { defaultInstanceName } from './instance.ts';
export { DEFAULT_API_URL, apiUrlOf, consumerSettings } from './settings.ts';
export {
  type DeviceGrant,
  MIN_SECRET_BYTES,
  TOKEN_SCOPES,
  type TokenScope,
  type TokenVerifier,
  TokenRefused,
  createTokenVerifier,
  deviceMatches,
  isDeviceGlob,
  mintDeviceToken,
} from './device-tokens.ts';
export { type CompiledGlob, compileGlob, globMatches } from './glob.ts';
export {
  FileRefused,
  MAX_CSV_COLUMNS,
  MAX_GZIP_EXPANSION,
  type ReadingFileOptions,
  type ReplayItem,
  readReadingFile,
} from './reading-file.ts';
export { MAX_LINE_BYTES } from './bounded-lines.ts';
export {
  ConnectionRenewedError,
  ReplicasBehindError,
  confirmWritesSince,
  connectionGeneration,
  renewalsOf,
  replicaPolicyOf,
  replicated,
} from './replica-wait.ts';
export {
  type RedisTarget,
  type ReplicaPolicy,
  type SentinelAnswer,
  askSentinel,
  checkSentinels,
  redisTargetOf,
  redisTargetOrExit,
  sentinelList,
} from './redis-target.ts';
export {
  type EntryReading,
  conflictsAmong,
  entryReadingKey,
  groupSettled,
  recordConflicts,
  waitForGroup,
} from './store-verdicts.ts';
export { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth.ts';
export { isRedisOutOfMemory, isTransientRedisError } from './redis-errors.ts';
export {
  MEMORY_HIGH_WATER,
  type RedisMemory,
  RedisFullError,
  memoryProblems,
  nearlyFull,
  readRedisMemory,
} from './redis-memory.ts';
export {
  type AbsenceRule,
  GLOB_PATTERN,
  RULE_KINDS,
  type Rule,
  type RuleInput,
  type RateRule,
  type RuleKind,
  RuleSchema,
  type ThresholdRule,
  type WindowRule,
  isAbsenceRule,
  isRateRule,
  isWindowRule,
  isThresholdRule,
  checkRules,
  compileRule,
  defaultRuleInputs,
  defaultRules,
  describeRule,
  loadRules,
  ruleSummary,
  ruleVerdict,
  parseRuleInputs,
  parseRules,
} from './alert-rules.ts';
export { RULES_SET_BY_API, type RuleSet, readRuleSet, replaceRuleSet } from './rule-sets.ts';
export {
  type Silence,
  inForce,
  readSilences,
  silenceMatches,
  silencing,
} from './silences.ts';
export { alertAckField } from './alert-acks.ts';
export { absenceMemberOf } from './absence-keys.ts';
export { KEY_LAYOUT, KeyLayoutUpgradingError, prepareKeysOrExit, upgradeKeyLayout } from './key-layout.ts';
export {
  MAX_STREAM_PARTITIONS,
  PartitionCountMismatchError,
  type ReadingStreams,
  checkPartitionCount,
  partitionOf,
  readingStreams,
  readingStreamsOf,
  alertStreamsOf,
  alertStreamOf,
} from './partitions.ts';
export {
  type AlertKeys,
  type StreamKeys,
  alertKeys,
  hasHashTag,
  importKeys,
  partitionStream,
  pipelineKeys,
  streamKeys,
} from './keys.ts';
export { raiseRetired } from './retired-alert.ts';
export {
  type DeviceMetric,
  type DeviceRecord,
  MAX_DEVICE_METRICS,
  absenceMembersOf,
  deviceIdsAfter,
  type AlertPartitions,
  forgetDevice,
  parseDeviceRecord,
  readDeviceRecords,
  silentBy,
} from './device-registry.ts';
export {
  type FieldValue,
  LineProtocolError,
  type Point,
  parsePoint,
  pointLines,
  precisionOf,
  timestampMs,
} from './line-protocol.ts';
export { RECEIPT_TTL_SECONDS, firstReceipt } from './receipts.ts';
export { redisNowMs } from './redis-clock.ts';
