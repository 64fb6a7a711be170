import { parseIsoTime } from 'core';
import { Elysia } from 'elysia';
import type { Cursor, ReadingsStore, StoredAlert } from '../../storage/port.ts';
import { errorResponses } from '../docs/responses.ts';
import { decodeCursor, encodeCursor } from '../readings/cursor.ts';
import { parseFilter, parseLimit } from '../readings/filters.ts';
import {
  AlertListQuery,
  AlertPage,
  HistoryBatch,
  HistoryBatchResult,
  type HistoryAlert,
  historyAlertCheck,
} from './model.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const toApi = (alert: StoredAlert): typeof HistoryAlert.static => ({
  ...alert,
  ts: iso(alert.ts),
  raisedAt: iso(alert.raisedAt),
});

/**
 * The alert history: consumer-store's `history` group stores every transition of the alerts
 * stream here (POST /alerts/batch, idempotent by alert id); GET /alerts lists it.
 */
export function alertRoutes(store: ReadingsStore) {
  return new Elysia({ name: 'alerts', prefix: '/alerts', detail: { tags: ['alerts'] } })
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
          rows.push({ ...alert, ts, raisedAt });
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
        return { alerts: page.map(toApi), nextCursor: more && last ? encodeCursor(last) : null };
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
