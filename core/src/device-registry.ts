import type Redis from 'ioredis';
import { absenceMemberOf } from './absence-keys.ts';
import type { AbsenceRule } from './alert-rules.ts';
import { alertKeys } from './keys.ts';
import { alertStreamOf, alertStreamsOf } from './partitions.ts';
import { raiseRetired } from './retired-alert.ts';

/**
 * Devices as things: every device that has reported, with when it was first and last seen and the
 * newest reading of each of its metrics. Kept in Redis by the `alerts` group (consumer-alert's
 * evaluator, atomically per batch, idempotent: lua/observe-devices.lua), read and forgotten by the
 * API (GET/DELETE /devices). Seen = when a reading was taken, or arrived if earlier, as absence
 * rules count it.
 */

/** Metrics listed per device at most: a device inventing metric names cannot grow its record without bound. */
export const MAX_DEVICE_METRICS = 64;

export interface DeviceMetric {
  metric: string;
  value: number;
  unit: string;
  /** When the newest reading of it was taken. */
  ts: number;
  readingId: string;
}

export interface DeviceRecord {
  deviceId: string;
  firstSeen: number;
  lastSeen: number;
  /** Its metrics by name, each with its newest reading (at most MAX_DEVICE_METRICS). */
  metrics: DeviceMetric[];
  /** Metrics past MAX_DEVICE_METRICS, seen and not listed. */
  metricsNotListed: number;
}

/** A record as the script writes it: f first seen, l last seen, x metrics not listed, m metric → [value, unit, ts, readingId, seen]. */
interface PackedDevice {
  f: number;
  l: number;
  x?: number;
  m: Record<string, [string, string, number, string, number]> | unknown[];
}

export function parseDeviceRecord(deviceId: string, text: string): DeviceRecord {
  const packed = JSON.parse(text) as PackedDevice;
  // Lua's cjson writes an empty table as [] — a record with no metric listed.
  const metrics = Array.isArray(packed.m) ? [] : Object.entries(packed.m);
  return {
    deviceId,
    firstSeen: packed.f,
    lastSeen: packed.l,
    metrics: metrics
      .map(([metric, [value, unit, ts, readingId]]) => ({ metric, value: Number(value), unit, ts, readingId }))
      .sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0)),
    metricsNotListed: packed.x ?? 0,
  };
}

/**
 * Where the registry is: ALERTS_STREAM and STREAM_PARTITIONS. Each device's record (and alert
 * state) is beside its partition of the alerts stream (partitions.ts `alertStreamOf`).
 */
export interface AlertPartitions {
  alertsStream: string;
  partitions: number;
}

const keysOf = (redis: Redis, where: AlertPartitions, deviceId: string) =>
  alertKeys(redis, alertStreamOf(where.alertsStream, where.partitions, deviceId));

/** The records of `ids`, in order (undefined for a device not known): one HMGET per partition. */
export async function readDeviceRecords(
  redis: Redis,
  where: AlertPartitions,
  ids: readonly string[],
): Promise<Array<DeviceRecord | undefined>> {
  const byKey = new Map<string, number[]>();
  for (const [index, id] of ids.entries()) {
    const key = keysOf(redis, where, id).devices.records;
    const indexes = byKey.get(key);
    if (indexes) indexes.push(index);
    else byKey.set(key, [index]);
  }
  const found = new Array<DeviceRecord | undefined>(ids.length);
  await Promise.all(
    [...byKey].map(async ([key, indexes]) => {
      const texts = await redis.hmget(key, ...indexes.map((index) => ids[index] as string));
      for (const [at, text] of texts.entries()) {
        const index = indexes[at] as number;
        found[index] = text === null ? undefined : parseDeviceRecord(ids[index] as string, text);
      }
    }),
  );
  return found;
}

/**
 * Up to `count` device ids after `after` (exclusive), by id: up to `count` from each partition's
 * index, merged (ids are ASCII, so JavaScript's order is the index's byte order).
 */
export async function deviceIdsAfter(redis: Redis, where: AlertPartitions, after: string | undefined, count: number) {
  const pages = await Promise.all(
    alertStreamsOf({ alertsStream: where.alertsStream, streamPartitions: where.partitions }).streams.map((stream) =>
      redis.zrangebylex(
        alertKeys(redis, stream).devices.index,
        after === undefined ? '-' : `(${after}`,
        '+',
        'LIMIT',
        0,
        count,
      ),
    ),
  );
  return pages.length === 1 ? (pages[0] as string[]) : pages.flat().sort().slice(0, count);
}

/** The absence watches a device's record is in: each rule matching it, with its members. */
export function absenceMembersOf(record: DeviceRecord, rules: readonly AbsenceRule[]) {
  return rules.flatMap((rule) => {
    const members = rule.perMetric
      ? record.metrics
          .filter((m) => rule.matches({ deviceId: record.deviceId, metric: m.metric }))
          .map((m) => absenceMemberOf(true, record.deviceId, m.metric))
      : rule.matches({ deviceId: record.deviceId, metric: rule.metricPattern })
        ? [record.deviceId]
        : [];
    return members.length > 0 ? [{ rule, members }] : [];
  });
}

/** The absence rules calling each device silent now (rule ids), in the order of `records`. */
export async function silentBy(
  redis: Redis,
  where: AlertPartitions,
  records: readonly DeviceRecord[],
  rules: readonly AbsenceRule[],
): Promise<string[][]> {
  const pipeline = redis.pipeline();
  const asked = records.map((record) =>
    absenceMembersOf(record, rules).map(({ rule, members }) => {
      pipeline.hmget(keysOf(redis, where, record.deviceId).absence(rule.id).silent, ...members);
      return rule.id;
    }),
  );
  const answers = (await pipeline.exec()) ?? [];
  let next = 0;
  return asked.map((ruleIds) =>
    ruleIds.filter(() => {
      const [error, values] = answers[next++] ?? [];
      if (error) throw error;
      return (values as Array<string | null>).some((value) => value !== null);
    }),
  );
}

/**
 * Forgets a device: its record, and its place in every absence watch (a deleted device is not
 * called silent). A silence in force resolves, with a note, under the id a removal of its rule
 * would give it (so it resolves once whichever comes first). Its readings stay. A reading of it
 * evaluated after this (a device still reporting, or one still in the backlog) makes it known
 * again. Returns the record forgotten, or undefined when the device was not known.
 */
export async function forgetDevice(
  redis: Redis,
  where: AlertPartitions,
  deviceId: string,
  rules: readonly AbsenceRule[],
): Promise<DeviceRecord | undefined> {
  const [record] = await readDeviceRecords(redis, where, [deviceId]);
  // Everything below is in the device's partition: one slot, so one MULTI.
  const alertsStream = alertStreamOf(where.alertsStream, where.partitions, deviceId);
  if (!record) return undefined;
  const watched = absenceMembersOf(record, rules);
  const [seconds] = (await redis.time()) as [number | string, number | string];
  for (const { rule, members } of watched) {
    const keys = alertKeys(redis, alertsStream).absence(rule.id);
    const [silences, newest] = await Promise.all([
      redis.hmget(keys.silent, ...members),
      redis.hmget(keys.newest, ...members),
    ]);
    for (const [index, from] of silences.entries()) {
      if (from === null) continue;
      const member = members[index] as string;
      // As the absence sweep keeps it: `arrival|readingId|metric|ts`.
      const [, readingId = 'none', metric = 'unknown'] = (newest[index] ?? '').split('|');
      await raiseRetired(redis, alertsStream, {
        episode: `${rule.id}|${member}|${from}`,
        ruleId: rule.id,
        severity: rule.severity,
        deviceId,
        metric,
        readingId,
        note: `device ${deviceId} was deleted`,
        ts: Number(seconds) * 1_000,
      });
    }
  }
  const { records, index } = alertKeys(redis, alertsStream).devices;
  const multi = redis.multi().hdel(records, deviceId).zrem(index, deviceId);
  for (const { rule, members } of watched) {
    const keys = alertKeys(redis, alertsStream).absence(rule.id);
    multi
      .zrem(keys.watch, ...members)
      .hdel(keys.newest, ...members)
      .hdel(keys.silent, ...members)
      .zrem(keys.reminders, ...members);
  }
  await multi.exec();
  return record;
}
