import { alertAckField, alertKeys, alertStreamOf, parseIsoTime, replicated } from 'core';
import { Elysia, t } from 'elysia';
import type Redis from 'ioredis';
import { ApiError } from '../../errors.ts';
import type { Cursor, StoredAlert, AlertHistory } from '../../storage/port.ts';
import { errorResponses } from '../docs/responses.ts';
import { decodeCursor, encodeCursor } from '../readings/cursor.ts';
import { parseFilter, parseLimit } from '../readings/filters.ts';
import {
  AlertAckBody,
  AlertListQuery,
  AlertPage,
  HistoryBatch,
  HistoryBatchResult,
  HistoryAlert,
  historyAlertCheck,
} from './model.ts';

const iso = (ms: number) => new Date(ms).toISOString();
export const alertView = (alert: StoredAlert): typeof HistoryAlert.static => ({
  ...alert,
  ts: iso(alert.ts),
  raisedAt: iso(alert.raisedAt),
  ackedBy: alert.ackedBy ?? null,
  ackedAt: alert.ackedAt ? iso(alert.ackedAt) : null,
  ackNote: alert.ackNote ?? null,
});

/**
 * The alert history: consumer-store's `history` group stores every transition of the alerts
 * stream here (POST /alerts/batch, idempotent by alert id); GET /alerts lists it.
 */
/**
 * Redis and the alerts stream (ALERTS_STREAM), where the rules and silences are kept; with
 * `partitions` (STREAM_PARTITIONS) above 1, each device's alert state is beside its partition of
 * the alerts stream (core's alertStreamOf).
 */
export interface AlertingOptions {
  redis: Redis;
  alertsStream: string;
  partitions?: number;
}

export function alertRoutes(store: AlertHistory, alerting?: AlertingOptions) {
  return new Elysia({ name: 'alerts', prefix: '/alerts', detail: { tags: ['alerts'] } })
    .post(
      '/:id/ack',
      async ({ params, body }) => {
        const found = await store.acknowledgeAlert(params.id, {
          author: body.author,
          note: body.note ?? null,
          at: Date.now(),
        });
        if (!found) throw new ApiError(404, 'not_found', `no alert with id ${JSON.stringify(params.id.slice(0, 64))}`);
        if (found.state !== 'firing')
          throw new ApiError(
            409,
            'not_firing',
            `alert ${found.id} is a ${found.state} alert: acknowledge a firing one`,
          );
        // The evaluator stops reminding (repeatAfterMs) until the device resolves.
        if (alerting && found.ackedAt)
          await replicated(alerting.redis, () =>
            alerting.redis.hset(
              alertKeys(alerting.redis, alertStreamOf(alerting.alertsStream, alerting.partitions ?? 1, found.deviceId))
                .acks,
              alertAckField(found.ruleId, found.deviceId),
              JSON.stringify({ alertId: found.id, author: found.ackedBy, at: found.ackedAt }),
            ),
          );
        return alertView(found);
      },
      {
        params: t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) }),
        body: AlertAckBody,
        response: HistoryAlert,
        detail: {
          summary:
            'Acknowledge a firing alert (who, and why): its reminders (repeatAfterMs) stop until the device resolves; the history shows it. The first acknowledgement stays',
          responses: errorResponses(400, 401, 404, 409, 422, 503),
        },
      },
    )
    .post(
      '/batch',
      async ({ body }) => {
        const rows: StoredAlert[] = [];
        const refused: Array<{ index: number; path: string; message: string }> = [];
        for (const [index, item] of body.alerts.entries()) {
          const error = historyAlertCheck.Check(item) ? undefined : historyAlertCheck.Errors(item).First();
          if (error) {
            refused.push({ index, path: `alerts.${index}${error.path.replaceAll('/', '.')}`, message: error.message });
            continue;
          }
          const alert = item as typeof HistoryAlert.static;
          const ts = parseIsoTime(alert.ts);
          const raisedAt = parseIsoTime(alert.raisedAt);
          if (!Number.isFinite(ts) || !Number.isFinite(raisedAt)) {
            refused.push({
              index,
              path: `alerts.${index}.${Number.isFinite(ts) ? 'raisedAt' : 'ts'}`,
              message: 'is not a valid date-time',
            });
            continue;
          }
          // Acknowledgements come by POST /alerts/:id/ack only, never with a transition.
          const { ackedBy: _by, ackedAt: _at, ackNote: _note, ...transition } = alert;
          rows.push({ ...transition, ts, raisedAt });
        }
        const outcome = await store.insertAlerts(rows);
        return { ...outcome, refused };
      },
      {
        body: HistoryBatch,
        response: HistoryBatchResult,
        detail: {
          summary: 'Store up to 5,000 alert transitions, idempotent by alert id (consumer-store does)',
          responses: errorResponses(400, 401, 413, 422, 503),
        },
      },
    )
    .get(
      '/',
      async ({ query }) => {
        const { deviceId, fromMs, toMs } = parseFilter(query);
        const limit = parseLimit(query.limit);
        const after: Cursor | undefined = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        const rows = await store.alerts(
          { deviceId, ruleId: query.ruleId, state: query.state, fromMs, toMs },
          limit + 1,
          after,
        );
        const more = rows.length > limit;
        const page = more ? rows.slice(0, limit) : rows;
        const last = page.at(-1);
        return { alerts: page.map(alertView), nextCursor: more && last ? encodeCursor(last) : null };
      },
      {
        query: AlertListQuery,
        response: AlertPage,
        detail: {
          summary: 'The alert history, newest first by reading time, with cursor pagination',
          responses: errorResponses(401, 422, 429, 503),
        },
      },
    );
}
