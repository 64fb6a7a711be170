import type Redis from 'ioredis';
import { streamKeys } from './keys.ts';

/** How long a door remembers when it first received a body: a client's retries come within it. */
export const RECEIPT_TTL_SECONDS = 3_600;

/**
 * When a door first received this body (`door` into `stream`), remembered an hour by
 * the body's SHA-256: readings sent without a time take it, so a client's retry of the same body
 * gives them the same time and the same ids, and they are stored once. `nowMs` when this is the
 * first time (or Redis cannot say: the readings are then dated now).
 */
export async function firstReceipt(
  redis: Redis,
  receipt: { stream: string; door: 'ingest' | 'line-protocol' | 'mqtt' },
  body: string | Uint8Array,
  nowMs: number,
): Promise<number> {
  const sha256 = new Bun.CryptoHasher('sha256').update(body).digest('hex');
  const key = streamKeys(redis, receipt.stream).receipt(receipt.door, sha256);
  const first = await redis.set(key, String(nowMs), 'EX', RECEIPT_TTL_SECONDS, 'NX', 'GET').catch(() => null);
  return first === null ? nowMs : Number(first);
}
