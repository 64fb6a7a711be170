import {
  type AbsenceRule,
  type AlertPartitions,
  type DeviceRecord,
  compileGlob,
  compileRule,
  deviceIdsAfter,
  forgetDevice,
  isAbsenceRule,
  readDeviceRecords,
  readRuleSet,
  redisNowMs,
  replicated,
  silentBy,
} from 'core';
import { Elysia } from 'elysia';
import type Redis from 'ioredis';
import { ApiError, invalidField } from '../../errors.ts';
import { redisAnswers503 } from '../../redis-unavailable.ts';
import type { StoredAlert, AlertHistory } from '../../storage/port.ts';
import { type AlertingOptions, alertView } from '../alerts/index.ts';
import { errorResponses } from '../docs/responses.ts';
import { parseLimit } from '../readings/filters.ts';
import {
  DEFAULT_OFFLINE_AFTER_MS,
  DeviceDetail,
  DeviceListQuery,
  DevicePage,
  DeviceParams,
  DeviceQuery,
  type DeviceView,
} from './model.ts';

/** Ids read per page at most, whatever the filters: a page of a sparse filter may be short. */
const MAX_IDS_PER_PAGE = 1_000;
/** A device's latest transitions read for what fires on it now. */
const RECENT_TRANSITIONS = 500;

const iso = (ms: number) => new Date(ms).toISOString();

function parseOfflineAfter(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_OFFLINE_AFTER_MS;
  const ms = Number(raw);
  if (ms < 1_000 || ms > 30 * 86_400_000) throw invalidField('offlineAfterMs', 'must be between 1000 and 2592000000');
  return ms;
}

function deviceView(record: DeviceRecord, silent: string[], now: number, offlineAfterMs: number) {
  const online = silent.length === 0 && record.lastSeen >= now - offlineAfterMs;
  return {
    deviceId: record.deviceId,
    firstSeen: iso(record.firstSeen),
    lastSeen: iso(record.lastSeen),
    status: online ? 'online' : 'offline',
    silentBy: silent,
    metrics: record.metrics.map((m) => ({ ...m, ts: iso(m.ts) })),
    metricsNotListed: record.metricsNotListed,
  } satisfies typeof DeviceView.static;
}

/** What fires on the device now: the newest of its latest transitions per rule and metric, when firing. */
function firingNow(transitions: readonly StoredAlert[]): StoredAlert[] {
  const newest = new Map<string, StoredAlert>();
  for (const alert of transitions) {
    const key = `${alert.ruleId}|${alert.metric}`;
    if (!newest.has(key)) newest.set(key, alert);
  }
  return [...newest.values()].filter((alert) => alert.state === 'firing');
}

/**
 * One page of GET /devices: ids after the cursor, by id, read 100 at a time and at most
 * MAX_IDS_PER_PAGE per page whatever the filters (a sparse filter's page may be short); the next
 * cursor is the last id examined.
 */
async function devicePage(
  redis: Redis,
  where: AlertPartitions,
  page: {
    cursor?: string;
    limit: number;
    status?: 'online' | 'offline';
    wanted?: { matches(id: string): boolean };
    now: number;
    offlineAfterMs: number;
    rules: readonly AbsenceRule[];
  },
) {
  const { limit, wanted, status, now, offlineAfterMs, rules } = page;
  const devices: Array<typeof DeviceView.static> = [];
  let cursor = page.cursor;
  let read = 0;
  let more = true;
  while (more && devices.length < limit && read < MAX_IDS_PER_PAGE) {
    const ask = Math.min(MAX_IDS_PER_PAGE - read, 100);
    const ids = await deviceIdsAfter(redis, where, cursor, ask);
    more = ids.length === ask;
    read += ids.length;
    const matching = ids.filter((id) => wanted?.matches(id) ?? true);
    const records = (await readDeviceRecords(redis, where, matching)).filter(
      (record): record is DeviceRecord => record !== undefined,
    );
    const silences = await silentBy(redis, where, records, rules);
    const byId = new Map(records.map((record, index) => [record.deviceId, index]));
    for (const id of ids) {
      if (devices.length === limit) {
        more = true;
        break;
      }
      cursor = id;
      const index = byId.get(id);
      if (index === undefined) continue;
      const view = deviceView(records[index] as DeviceRecord, silences[index] ?? [], now, offlineAfterMs);
      if (status === undefined || view.status === status) devices.push(view);
    }
  }
  return { devices, nextCursor: more ? (cursor ?? null) : null };
}

/**
 * Devices as things: every device that has reported (kept by consumer-alert as it evaluates, in
 * Redis: core's device-registry.ts), with when it was first and last seen, each metric's newest
 * reading, whether an absence rule calls it silent, and (one device) what fires on it now.
 * DELETE forgets one — its record and absence watches; its readings stay.
 */
export function deviceRoutes(store: AlertHistory, options: AlertingOptions | undefined) {
  const unavailable = redisAnswers503('devices_unavailable', 'the devices');
  const redisCall = <T>(call: (redis: Redis, where: AlertPartitions) => Promise<T>): Promise<T> => {
    if (!options) throw unavailable.none();
    const where = { alertsStream: options.alertsStream, partitions: options.partitions ?? 1 };
    return unavailable.call(() => call(options.redis, where));
  };
  const absenceRules = async (redis: Redis, where: AlertPartitions): Promise<AbsenceRule[]> =>
    ((await readRuleSet(redis, where.alertsStream))?.rules ?? []).map(compileRule).filter(isAbsenceRule);

  return new Elysia({ name: 'devices', prefix: '/devices', detail: { tags: ['devices'] } })
    .get(
      '/',
      ({ query }) => {
        const limit = parseLimit(query.limit, 50, 200);
        const offlineAfterMs = parseOfflineAfter(query.offlineAfterMs);
        const wanted = query.device === undefined ? undefined : compileGlob(query.device);
        return redisCall(async (redis, where) => {
          const [now, rules] = await Promise.all([redisNowMs(redis), absenceRules(redis, where)]);
          return devicePage(redis, where, { ...query, limit, offlineAfterMs, wanted, now, rules });
        });
      },
      {
        query: DeviceListQuery,
        response: DevicePage,
        detail: {
          summary: 'Devices that have reported, by id, with cursor pages: filter by glob and online/offline',
          responses: errorResponses(401, 422, 503),
        },
      },
    )
    .get(
      '/:id',
      async ({ params, query }) => {
        const offlineAfterMs = parseOfflineAfter(query.offlineAfterMs);
        const view = await redisCall(async (redis, where) => {
          const [[record], now, rules] = await Promise.all([
            readDeviceRecords(redis, where, [params.id]),
            redisNowMs(redis),
            absenceRules(redis, where),
          ]);
          if (!record) return undefined;
          const [silent] = await silentBy(redis, where, [record], rules);
          return deviceView(record, silent ?? [], now, offlineAfterMs);
        });
        if (!view) throw notFound(params.id);
        const transitions = await store.alerts({ deviceId: params.id }, RECENT_TRANSITIONS);
        return { ...view, firing: firingNow(transitions).map(alertView) };
      },
      {
        params: DeviceParams,
        query: DeviceQuery,
        response: DeviceDetail,
        detail: {
          summary: 'One device: first and last seen, each metric’s newest reading, silences, what fires on it now',
          responses: errorResponses(401, 404, 422, 503),
        },
      },
    )
    .delete(
      '/:id',
      async ({ params }) => {
        const forgotten = await redisCall(async (redis, where) =>
          replicated(redis, async () => forgetDevice(redis, where, params.id, await absenceRules(redis, where))),
        );
        if (!forgotten) throw notFound(params.id);
        return new Response(null, { status: 204 });
      },
      {
        params: DeviceParams,
        detail: {
          summary: 'Forget a device: its record and absence watches (a silence in force resolves); its readings stay',
          responses: { 204: { description: 'Forgotten' }, ...errorResponses(401, 404, 422, 503) },
        },
      },
    );
}

const notFound = (id: string) =>
  new ApiError(404, 'not_found', `no device ${JSON.stringify(id.slice(0, 128))} has reported (or it was deleted)`);
