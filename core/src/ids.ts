/**
 * A new reading id: a UUIDv7, so ids sort by creation time (good B-tree locality in storage,
 * cursor pagination by id) and are unique without coordination. The producer makes it once per
 * reading and keeps it across retries: it is the idempotency key all the way to SQLite.
 */
export function newEventId(atMs: number = Date.now()): string {
  return Bun.randomUUIDv7('hex', atMs);
}
