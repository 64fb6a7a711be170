import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * Every Redis key the pipeline uses is named in this file, and nowhere else.
 *
 * A Redis Cluster runs a MULTI, a script or a many-key command only over keys of one hash slot,
 * and a key's slot is the hash of its `{tag}` when it has one. So keys used together share a tag,
 * and nothing else does, which leaves the rest free to spread over the nodes:
 * - A stream keeps the name devices XADD to (`readings`, `alerts`: the event contract). The keys
 *   used with it take its whole name, KEY_PREFIX included, as their tag: `{readings}:dead` hashes
 *   as `readings` does (ioredis puts the prefix before every key, so the tag must hold it too).
 * - Keys of our own used together are tagged by their family: `{imports}`, `telemetry:{workers}`.
 * A KEY_PREFIX that holds a tag of its own (`{tenant}:`) puts all of a pipeline's keys in one slot;
 * the stream tags are then left out, as they would change nothing.
 *
 * `client` is the connection the keys are used on: its KEY_PREFIX is part of the tags.
 */
type KeyClient = Pick<Redis, 'options'>;

/** The keys a stream's users touch: the stream, its dead letters, and what the doors remember of it. */
export function streamKeys(client: KeyClient, stream: string) {
  const beside = sideOf(client, stream);
  return {
    stream,
    /** Dead letters (core's dead-letter.ts), written in one MULTI with the XACK of their entries. */
    dead: `${beside}:dead`,
    /** Readings the store group found in conflict (store-verdicts.ts): a sorted set, used alone. */
    conflicts: `${stream}:conflicts`,
    /** When a door (`ingest`, `line-protocol`, `mqtt`) first received a body, by its SHA-256 (receipts.ts). */
    receipt: (door: string, bodySha256: string) => `${stream}:${door}:receipt:${bodySha256}`,
  };
}

/**
 * Partition `index` of the readings stream (partitions.ts): the stream's own name for 0,
 * `<stream>:<index>` for the others. Each is a stream of its own, whose name is its tag.
 */
export function partitionStream(stream: string, index: number): string {
  return index === 0 ? stream : `${stream}:${index}`;
}

/**
 * The alerts stream's keys: everything the evaluation scripts touch in one call (rule states, the
 * acknowledgements, escalation, the device registry, the evaluator lease) shares the stream's slot;
 * the rule set, the silences and the instances alive are read alone.
 *
 * With STREAM_PARTITIONS above 1 the alerts stream is split as the readings stream is
 * (partitions.ts): partition n's evaluator writes its transitions to `partitionStream(alerts, n)`
 * and keeps its devices' state beside it, in that stream's slot — `alertKeys(client,
 * partitionStream(alerts, n))` names them. Those keys spread over a cluster's masters with the
 * partitions; the rule set, the silences and the instances alive are the base stream's
 * (`alertKeys(client, alerts)`), whatever the partition.
 */
export function alertKeys(client: KeyClient, alertsStream: string) {
  const beside = sideOf(client, alertsStream);
  return {
    ...streamKeys(client, alertsStream),
    /** The rule set in force (rule-sets.ts). */
    rules: `${alertsStream}:rules`,
    /** The rules evaluated so far, for retiring those that left the set (leader-duties.ts). */
    rulesKnown: `${alertsStream}:rules:known`,
    /** Silences by id (silences.ts). */
    silences: `${alertsStream}:silences`,
    /** The silences whose end the notifier already announced. */
    silencesFollowed: `${alertsStream}:silences:followed`,
    /**
     * Only the instance holding it evaluates the partition and sweeps its time-based rules
     * (consumer-alert's evaluator-lease.ts).
     */
    evaluatorLease: `${beside}:evaluator`,
    /** The consumer-alert instances alive, each until a time (Redis's clock): how partitions are shared (partition-share.ts). */
    evaluators: `${beside}:evaluators`,
    /** Acknowledged alerts, a field per `<ruleId>|<deviceId>` (alert-acks.ts). */
    acks: `${beside}:acks`,
    /** The firings escalation follows and the steps raised (consumer-alert's escalate-alerts.lua). */
    escalation: { firing: `${beside}:escalation:firing`, raised: `${beside}:escalation:raised` },
    /** Devices as things: records by id and the index that pages them (device-registry.ts). */
    devices: { records: `${beside}:devices`, index: `${beside}:devices:index` },
    /** A threshold rule's state per device (consumer-alert's threshold-state.lua). */
    thresholdState: (ruleId: string) => `${beside}:state:${ruleId}`,
    /** A rate rule's state per device and metric. */
    rateState: (ruleId: string) => `${beside}:rate:${ruleId}`,
    /** A window rule's state per device and metric. */
    windowState: (ruleId: string) => `${beside}:window:${ruleId}`,
    /** An absence rule's watch, newest readings, silences and reminders due (absence-keys.ts). */
    absence: (ruleId: string) => {
      const base = `${beside}:absence:${ruleId}`;
      return {
        watch: `${base}:watch`,
        newest: `${base}:newest`,
        silent: `${base}:silent`,
        reminders: `${base}:reminders`,
      };
    },
  };
}

export type StreamKeys = ReturnType<typeof streamKeys>;
export type AlertKeys = ReturnType<typeof alertKeys>;

/** Keys of the pipeline as a whole. */
export const pipelineKeys = {
  /** Every worker's last heartbeat (a hash), written in one MULTI with the worker's own expiring key. */
  workers: 'telemetry:{workers}',
  /** `<service>:<instance>`'s heartbeat: expires when the worker stops beating. */
  heartbeat: (worker: string) => `telemetry:{workers}:heartbeat:${worker}`,
  /** A marker: a Redis that comes back without it lost its data (the API's redis-epoch.ts). */
  epoch: 'telemetry:epoch',
  /** Which database the readings went to, per backend and location (the API's storage-identity.ts). */
  storageIdentity: (backend: string, location: string) => `telemetry:storage:${backend}:${location}`,
  /** How many partitions a readings stream is split into, fixed when the pipeline is created (partitions.ts). */
  partitions: (readingsStream: string) => `telemetry:partitions:${readingsStream}`,
  /** Which layout the keys are in (key-layout.ts). */
  layout: 'telemetry:key-layout',
  /** Held by the service bringing the keys to this layout. */
  layoutUpgrade: 'telemetry:key-layout:upgrading',
  /** Something kept per webhook (its pace, its deliveries): by a hash of its URL, whose path is the channel's secret. */
  webhook: (kind: 'webhook-pace' | 'webhook-delivered', webhookUrl: string) =>
    `${kind}:${createHash('sha256').update(webhookUrl).digest('hex').slice(0, 32)}`,
};

/**
 * Import jobs (the API's imports/jobs.ts), created in one MULTI: every id by creation time, the
 * ids still queued or running, and a hash per job. `family` keeps tests' jobs apart.
 */
export function importKeys(family = 'imports') {
  return {
    all: `{${family}}`,
    active: `{${family}}:active`,
    job: (id: string) => `{${family}}:${id}`,
  };
}

/**
 * The name the keys used with `key` start with: `{<prefix><key>}`, or `key` itself when the
 * prefixed key holds a tag already (whatever follows it then hashes alike). A name with a lone
 * brace (`a{`) has no slot a tag can match: fine on one Redis, not on a cluster (docs say so).
 */
function sideOf(client: KeyClient, key: string): string {
  const full = `${client.options.keyPrefix ?? ''}${key}`;
  return hasHashTag(full) ? key : `{${full}}`;
}

/** Whether Redis Cluster would hash `name` by a tag: a `{` followed, later, by a `}` with something between. */
export function hasHashTag(name: string): boolean {
  const open = name.indexOf('{');
  if (open === -1) return false;
  const close = name.indexOf('}', open + 1);
  return close > open + 1;
}
