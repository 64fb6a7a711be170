/**
 * What the benchmarks read back from storage, through the API's storage port (any backend), never
 * by opening a database file themselves.
 */
import { openStore } from 'api/src/storage/open.ts';
import type { ReadingFilter, ReadingsStore, StoredRow } from 'api/src/storage/port.ts';

export type { ReadingsStore };
export { openStore };

/** Every stored row (matching `filter`) walked once, oldest first: rows, distinct ids, and each row's lead time (stored_at − ts). */
export async function storedRows(
  store: ReadingsStore,
  filter: ReadingFilter = {},
): Promise<{ rows: number; distinct: number; leads: number[] }> {
  const ids = new Set<string>();
  const leads: number[] = [];
  let after: { ts: number; id: string } | undefined;
  for (;;) {
    const chunk = await store.chunk(filter, 10_000, after);
    if (chunk.length === 0) break;
    for (const row of chunk) {
      ids.add(row.id);
      leads.push(row.storedAt - row.ts);
    }
    const last = chunk.at(-1) as StoredRow;
    after = { ts: last.ts, id: last.id };
  }
  return { rows: leads.length, distinct: ids.size, leads };
}
