import { InvalidEventError, MAX_FUTURE_MS, fromReadingArray, newEventId, parseIsoTime, validateReading } from 'core';
import { ApiError, invalidField } from '../../errors.ts';
import { type ExportFormat, readingJson } from '../../storage/export-text.ts';
import type { BatchOutcome, Cursor, ReadingFilter, ReadingsStore, StoredRow } from '../../storage/port.ts';
import { encodeCursor } from './cursor.ts';
import { type NewReading, type ReadingPatch, type StoredReading, newReadingCheck } from './model.ts';

export type ReadingsService = ReturnType<typeof createReadingsService>;

/** A stored row as the API answers it: times as ISO-8601 UTC (exports write the same). */
export const toStoredReading: (row: StoredRow) => StoredReading = readingJson;

/** Why a reading's time cannot be stored, if it cannot: before 1970, or over a day ahead. */
function timeProblem(ms: number, nowMs: number): string | undefined {
  if (Number.isNaN(ms)) return 'is not a date-time that exists (a day past the end of its month, or hour 24?)';
  if (ms < 0) return 'must be a date-time after 1970-01-01';
  if (ms > nowMs + MAX_FUTURE_MS) return 'is more than 24 hours in the future (device clock?)';
  return undefined;
}

/** A schema-valid reading as the row to store, or what is wrong with its time. */
function toRow(reading: NewReading, storedAt: number): StoredRow | { problem: string } {
  const ts = parseIsoTime(reading.ts);
  const problem = timeProblem(ts, storedAt);
  if (problem) return { problem };
  return {
    id: reading.id ?? newEventId(ts),
    deviceId: reading.deviceId,
    metric: reading.metric,
    value: reading.value,
    unit: reading.unit,
    ts,
    storedAt,
  };
}

/** The fields a reading is compared on for a conflict (storedAt is when, not what). */
const CONTENT_FIELDS = ['deviceId', 'metric', 'value', 'unit', 'ts'] as const;

/** A 409 naming each field where the offered reading differs from the stored one, with both values. */
function conflictError(offered: StoredRow, stored: StoredRow): ApiError {
  const shown = (field: (typeof CONTENT_FIELDS)[number], row: StoredRow) =>
    JSON.stringify(field === 'ts' ? new Date(row.ts).toISOString() : row[field]);
  const details = CONTENT_FIELDS.filter((field) => offered[field] !== stored[field]).map((field) => ({
    path: field,
    message: `stored ${shown(field, stored)}, this request ${shown(field, offered)}`,
  }));
  return new ApiError(
    409,
    'conflict',
    `reading ${offered.id} is already stored with other content; the stored version stays (GET /readings/${offered.id})`,
    details,
  );
}

export interface BatchAnswer {
  inserted: number;
  duplicates: number;
  conflicts: number;
  refused?: Array<{ index: number; path: string; message: string }>;
  conflicted?: Array<{ index: number; id: string; stored: StoredReading }>;
}

/** A batch item as a row to store, or what is wrong with it (named the way the request spelled it). */
function itemProblem(item: unknown, index: number, storedAt: number): StoredRow | { path: string; message: string } {
  // Check first: walking Errors() for a valid item costs several times the compiled check.
  const error = newReadingCheck.Check(item) ? undefined : newReadingCheck.Errors(item).First();
  if (error) return { path: `readings.${index}${error.path.replaceAll('/', '.')}`, message: error.message };
  const row = toRow(item as NewReading, storedAt);
  return 'problem' in row ? { path: `readings.${index}.ts`, message: row.problem } : row;
}

/**
 * Readings through the storage port. Stores are idempotent on the producer's id: posting the same
 * reading twice, or the same batch from two consumers at once, stores it once.
 */
export function createReadingsService(
  store: ReadingsStore,
  onStored: (outcome: BatchOutcome, refused: number) => void = () => {},
) {
  // Bumped by every committed change: /readings/latest serves its cached JSON until the next
  // one, so a dashboard polling it costs one query per write batch, not one per request.
  let changeVersion = 0;
  store.onChange(() => {
    changeVersion += 1;
  });
  const latestCache = new Map<number, { version: number; json: Promise<string> }>();

  const page = async (filter: ReadingFilter, limit: number, after: Cursor | undefined) => {
    const rows = await store.page(filter, limit + 1, after);
    const more = rows.length > limit;
    const pageRows = more ? rows.slice(0, limit) : rows;
    const last = pageRows.at(-1);
    return { readings: pageRows.map(toStoredReading), nextCursor: more && last ? encodeCursor(last) : null };
  };

  /** Stores the valid items of a batch in one transaction; names each refused item and conflict by its index. Nothing valid → 422. */
  const storeItems = async (
    checked: ReadonlyArray<StoredRow | { path: string; message: string }>,
  ): Promise<BatchAnswer> => {
    const refused: NonNullable<BatchAnswer['refused']> = [];
    const accepted: StoredRow[] = [];
    /** Each accepted row's index in the request. */
    const requestIndex: number[] = [];
    checked.forEach((item, index) => {
      if ('path' in item) {
        refused.push({ index, ...item });
        return;
      }
      accepted.push(item);
      requestIndex.push(index);
    });
    if (accepted.length === 0) {
      const first = refused[0] as { path: string; message: string };
      throw new ApiError(
        422,
        'validation',
        `${first.path}: ${first.message}`,
        refused.slice(0, 20).map(({ path, message }) => ({ path, message })),
      );
    }
    const outcome = await store.insert(accepted);
    onStored(outcome, refused.length);
    return {
      inserted: outcome.inserted,
      duplicates: outcome.duplicates,
      conflicts: outcome.conflicts.length,
      ...(refused.length > 0 ? { refused } : {}),
      ...(outcome.conflicts.length > 0
        ? {
            conflicted: outcome.conflicts.map(({ index, offered, stored }) => ({
              index: requestIndex[index] as number,
              id: offered.id,
              stored: toStoredReading(stored),
            })),
          }
        : {}),
    };
  };

  return {
    /**
     * One reading; `created` is false when its id was already stored with the same content (the
     * stored row is returned).
     * @throws ApiError 409 `conflict` when the id is stored with other content, naming each field
     * that differs with both values (the stored version stays).
     */
    async create(reading: NewReading): Promise<{ created: boolean; reading: StoredReading }> {
      const row = toRow(reading, Date.now());
      if ('problem' in row) throw invalidField('ts', row.problem);
      const outcome = await store.insert([row]);
      onStored(outcome, 0);
      const [conflict] = outcome.conflicts;
      if (conflict) throw conflictError(conflict.offered, conflict.stored);
      return { created: outcome.inserted === 1, reading: toStoredReading((await store.get(row.id)) ?? row) };
    },

    /**
     * Up to MAX_BATCH items in one transaction, each checked on its own: the valid ones are stored,
     * the answer names each refused item and each conflict by its index. Nothing valid → 422.
     */
    async createBatch(items: readonly unknown[]): Promise<BatchAnswer> {
      const storedAt = Date.now();
      return storeItems(items.map((item, index) => itemProblem(item, index, storedAt)));
    },

    /**
     * As createBatch, in the compact form consumer-store sends: each row the contract's array
     * `[id, deviceId, metric, value, unit, ts]` (a frame's element; ts in epoch ms), checked by the
     * contract itself — no objects to build, no ISO times to format and parse on either side.
     */
    async createRows(rows: readonly unknown[]): Promise<BatchAnswer> {
      const storedAt = Date.now();
      return storeItems(
        rows.map((row, index): StoredRow | { path: string; message: string } => {
          try {
            const reading = validateReading(
              fromReadingArray(row, () => JSON.stringify(row) ?? '', `rows.${index}`),
              storedAt,
            );
            return { ...reading, storedAt };
          } catch (error) {
            if (!(error instanceof InvalidEventError)) throw error;
            const path = error.field.startsWith('rows.') ? error.field : `rows.${index}.${error.field}`;
            return { path, message: error.reason };
          }
        }),
      );
    },

    async get(id: string): Promise<StoredReading | undefined> {
      const row = await store.get(id);
      return row && toStoredReading(row);
    },

    async update(id: string, patch: ReadingPatch): Promise<StoredReading | undefined> {
      const row = await store.patch(id, patch);
      return row && toStoredReading(row);
    },

    remove: (id: string): Promise<boolean> => store.remove(id),

    /** Newest first, keyset-paginated on (ts, id): each row appears exactly once across pages. */
    list: page,

    /** The newest `limit` readings as a JSON array string, cached until the next change. */
    latestJson(limit: number): Promise<string> {
      const cached = latestCache.get(limit);
      if (cached?.version === changeVersion) return cached.json;
      // One query per version, however many ask at once: the others wait for the same answer.
      const json = store.latest(limit).then((rows) => JSON.stringify(rows.map(toStoredReading)));
      const entry = { version: changeVersion, json };
      latestCache.set(limit, entry);
      json.catch(() => {
        // A failed query is not cached: the next request asks again.
        if (latestCache.get(limit) === entry) latestCache.delete(limit);
      });
      return json;
    },

    /** Oldest first, `limit` rows after `after` as export text: the export walks the table in these chunks. */
    exportChunk: (filter: ReadingFilter, limit: number, after: Cursor | undefined, format: ExportFormat) =>
      store.exportChunk(filter, limit, after, format),
  };
}
