import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * True when the Authorization header is exactly `Bearer <token>`. Both sides are hashed first so
 * the comparison takes the same time whatever the length or content of the guess.
 */
export function bearerMatches(header: string | null, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(header.slice('Bearer '.length)), digest(token));
}

/** Throws the 401/503 a write without the right token gets. */
export function requireToken(header: string | null, token: string | undefined, what: 'write' | 'read'): void {
  if (token === undefined) {
    throw new ApiError(503, 'token_not_configured', `${what}s are disabled until API_TOKEN is set (bun run start generates one into .env)`);
  }
  if (!bearerMatches(header, token)) {
    throw new ApiError(401, 'unauthorized', `${what}s need the header "Authorization: Bearer <${what === 'write' ? 'API_TOKEN' : 'READ_TOKEN'}>"`);
  }
}
