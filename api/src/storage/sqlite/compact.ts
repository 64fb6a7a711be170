import type { Database } from 'bun:sqlite';
import { idOf } from '../id-bytes.ts';

/** A row read with `stored_id AS id`, its id made text again. */
export function withIdText<T extends { id: unknown }>(row: T): T & { id: string } {
  row.id = idOf(row.id as Uint8Array | string);
  return row as T & { id: string };
}

const MAX_CACHED_NAMES = 1_000_000;

/**
 * The writer's keys for device ids, metrics and units (`names`). A key, once committed, never
 * changes, so it is kept in memory; one made in a transaction that then failed may not exist,
 * so `forget()` must follow any failed write that could have made one.
 */
export function nameKeys(sqlite: Database) {
  const insert = sqlite.prepare('INSERT OR IGNORE INTO names (name) VALUES (?)');
  const select = sqlite.prepare('SELECT key FROM names WHERE name = ?');
  let keys = new Map<string, number>();
  return {
    /** The key of `name`, made now (in the caller's transaction) when it is new. */
    key(name: string): number {
      let key = keys.get(name);
      if (key === undefined) {
        insert.run(name);
        key = (select.get(name) as { key: number }).key;
        // Bounded: past a million names (a fleet that large, or ids that should not be device
        // ids), they are looked up again rather than held.
        if (keys.size >= MAX_CACHED_NAMES) keys = new Map();
        keys.set(name, key);
      }
      return key;
    },
    forget() {
      keys = new Map();
    },
  };
}
