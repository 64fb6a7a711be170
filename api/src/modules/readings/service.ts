import { MAX_FUTURE_MS, newEventId } from 'core';
import { invalidField } from '../../errors.ts';
import type { BatchOutcome, Cursor, ReadingFilter, ReadingsStore, StoredRow } from '../../storage/port.ts';
import { encodeCursor } from './cursor.ts';
import type { NewReading, ReadingPatch, StoredReading } from './model.ts';

export type ReadingsService = ReturnType<typeof createReadingsService>;

/** A stored row as the API answers it: times as ISO-8601 UTC. */
export function toStoredReading(row: StoredRow): StoredReading {
  return {
    id: row.id,
    deviceId: row.deviceId,
    metric: row.metric,
    value: row.value,
    unit: row.unit,
    ts: new Date(row.ts).toISOString(),
    storedAt: new Date(row.storedAt).toISOString(),
  };
}

/** Epoch ms of a validated ISO time; before 1970 or over a day ahead is refused by name. */
function toEpochMs(iso: string, path: string, nowMs: number): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || ms < 0) throw invalidField(path, 'must be a date-time after 1970-01-01');
  if (ms > nowMs + MAX_FUTURE_MS) throw invalidField(path, 'is more than 24 hours in the future (device clock?)');
  return ms;
}

/** Validated readings as rows to store; `path` names a bad time the way the request spelled it. */
function toRows(batch: readonly NewReading[], storedAt: number, path: (index: number) => string): StoredRow[] {
  return batch.map((reading, index) => {
    const ts = toEpochMs(reading.ts, path(index), storedAt);
    return { id: reading.id ?? newEventId(ts), deviceId: reading.deviceId, metric: reading.metric, value: reading.value, unit: reading.unit, ts, storedAt };
  });
}

/**
 * Readings through the storage port. Stores are idempotent on the producer's id: posting the same
 * reading twice, or the same batch from two consumers at once, stores it once.
 */
export function createReadingsService(store: ReadingsStore, onStored: (outcome: BatchOutcome) => void = () => {}) {
  // Bumped by every committed change: /readings/latest serves its cached JSON until the next
  // one, so a dashboard polling it costs one query per write batch, not one per request.
  let changeVersion = 0;
  store.onChange(() => {
    changeVersion += 1;
  });
  const latestCache = new Map<number, { version: number; json: string }>();

  const page = async (filter: ReadingFilter, limit: number, after: Cursor | undefined) => {
    const rows = await store.page(filter, limit + 1, after);
    const more = rows.length > limit;
    const pageRows = more ? rows.slice(0, limit) : rows;
    const last = pageRows.at(-1);
    return { readings: pageRows.map(toStoredReading), nextCursor: more && last ? encodeCursor(last) : null };
  };

  return {
    /** One reading; `created` is false when its id was already stored (the stored row is returned). */
    async create(reading: NewReading): Promise<{ created: boolean; reading: StoredReading }> {
      const [row] = toRows([reading], Date.now(), () => 'ts') as [StoredRow];
      const { inserted } = await store.insert([row]);
      onStored({ inserted, duplicates: 1 - inserted });
      return { created: inserted === 1, reading: toStoredReading((await store.get(row.id)) ?? row) };
    },

    /** Up to MAX_BATCH readings in one transaction. */
    async createBatch(batch: readonly NewReading[]): Promise<BatchOutcome> {
      const outcome = await store.insert(toRows(batch, Date.now(), (index) => `readings.${index}.ts`));
      onStored(outcome);
      return outcome;
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
    async latestJson(limit: number): Promise<string> {
      const cached = latestCache.get(limit);
      if (cached?.version === changeVersion) return cached.json;
      const version = changeVersion;
      const json = JSON.stringify((await page({}, limit, undefined)).readings);
      latestCache.set(limit, { version, json });
      return json;
    },

    /** Oldest first, `limit` rows after `after`: the export walks the table in these chunks. */
    chunk: (filter: ReadingFilter, limit: number, after: Cursor | undefined): Promise<StoredRow[]> => store.chunk(filter, limit, after),
  };
}
