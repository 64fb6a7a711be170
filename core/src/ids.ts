/**
 * A new reading id: a UUIDv7, so ids sort by creation time (good B-tree locality in storage,
 * cursor pagination by id) and are unique without coordination. The producer makes it once per
 * reading and keeps it across retries: it is the idempotency key all the way to SQLite.
 */
export function newEventId(atMs: number = Date.now()): string {
  return Bun.randomUUIDv7('hex', atMs);
}

/**
 * The same UUIDv7 every time for the same moment and key: the time in its first 48 bits, the
 * rest from a SHA-256 of the key. For a door that can receive one message twice without an id
 * in it (MQTT QoS 1 redelivers after a crash): both copies get one id, and storage keeps one.
 */
export function eventIdFor(atMs: number, key: string): string {
  const ms = Math.max(0, Math.min(Math.trunc(atMs), 2 ** 48 - 1));
  const digest = Bun.SHA256.hash(key) as Uint8Array;
  let id = '';
  for (let i = 0; i < 6; i++) id += HEX[Math.floor(ms / 2 ** (8 * (5 - i))) % 256];
  // Then the digest's first 10 bytes, the version (7) and the RFC 4122 variant set in theirs.
  id += `-${HEX[0x70 | ((digest[0] as number) & 0x0f)]}${HEX[digest[1] as number]}`;
  id += `-${HEX[0x80 | ((digest[2] as number) & 0x3f)]}${HEX[digest[3] as number]}-`;
  for (let i = 4; i < 10; i++) id += HEX[digest[i] as number];
  return `${id.slice(0, 8)}-${id.slice(8)}`;
}

/** Each byte's two hex digits: the id is written from them directly (doors make one per reading). */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
