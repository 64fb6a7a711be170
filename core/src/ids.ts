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
  const bytes = new Uint8Array(16);
  const ms = Math.max(0, Math.min(Math.trunc(atMs), 2 ** 48 - 1));
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) % 256;
  bytes.set(new Bun.CryptoHasher('sha256').update(key).digest().subarray(0, 10), 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // RFC 4122 variant
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
