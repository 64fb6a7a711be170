import { Elysia } from 'elysia';
import { ApiError } from './errors.ts';

/** Our bodies nest 3 levels; this leaves room, and stops `[` × 100,000 before it is parsed. */
export const MAX_JSON_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when a JSON text nests deeper than `limit`: one scan, stopping early, no parse. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i += 1; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth += 1;
      if (depth > limit) return true;
    } else if (c === 93 || c === 125) depth -= 1;
  }
  return false;
}

/**
 * A body as text: invalid UTF-8 is refused, not silently replaced.
 * @throws ApiError 400 invalid_utf8.
 */
export function decodeUtf8Body(bytes: ArrayBuffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ApiError(400, 'invalid_utf8', 'request body is not valid UTF-8');
  }
}

/**
 * A JSON body, checked before it is parsed: invalid UTF-8 is refused (not silently replaced),
 * and so is nesting deeper than MAX_JSON_DEPTH (which would cost seconds of parsing and
 * validation, then a stack overflow). The size was bounded before it was read (MAX_BODY_BYTES).
 * @throws ApiError 400 naming what is wrong.
 */
export function parseJsonBody(bytes: ArrayBuffer): unknown {
  const text = decodeUtf8Body(bytes);
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new ApiError(400, 'too_deep', `request body nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'malformed_body', 'request body is not valid JSON');
  }
}

/** Elysia's JSON parser replaced by parseJsonBody for every route. */
export function jsonBody() {
  return new Elysia({ name: 'json-body' }).onParse({ as: 'global' }, async ({ request }, contentType) => {
    if (contentType.startsWith('application/json')) return parseJsonBody(await request.arrayBuffer());
  });
}
