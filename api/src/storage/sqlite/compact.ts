import type { Database } from 'bun:sqlite';

/** A canonical lowercase UUID: the only ids kept as 16 bytes (they read back the same text). */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A reading id as `reading_rows.id` keeps it: a canonical UUID (what the producer makes) as its
 * 16 bytes, any other id as its text — SQLite never finds a blob equal to a text, so the two
 * cannot collide. Migration 0004 converts with the same rule, the `readings` view back.
 */
export function storedId(id: string): Uint8Array | string {
  return CANONICAL_UUID.test(id) ? Buffer.from(id.replaceAll('-', ''), 'hex') : id;
}

const MAX_CACHED_NAMES = 1_000_000;

/** A kept id as the API speaks it: the inverse of `storedId`. */
export function idOf(stored: Uint8Array | string): string {
  if (typeof stored === 'string') return stored;
  const hex = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A row read with `stored_id AS id`, its id made text again. */
export function withIdText<T extends { id: unknown }>(row: T): T & { id: string } {
  row.id = idOf(row.id as Uint8Array | string);
  return row as T & { id: string };
}

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
