import { Elysia } from 'elysia';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from 'core';
import { ApiError } from './errors.ts';

export { MAX_JSON_DEPTH, jsonDepthExceeds };

const utf8 = new TextDecoder('utf-8', { fatal: true });

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

/**
 * The body, at most `maxBytes`. With a Content-Length it was checked before routing and is read
 * at once; a chunked body is counted as it arrives and refused (413) as soon as it is over.
 */
export async function readBodyBounded(request: Request, maxBytes: number): Promise<ArrayBuffer> {
  if (request.headers.has('content-length') || !request.body) return request.arrayBuffer();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for await (const chunk of boundedChunks(
    request.body,
    maxBytes,
    () => new ApiError(413, 'body_too_large', `request body is over ${maxBytes} bytes (MAX_BODY_BYTES)`),
  ))
    chunks.push(chunk);
  return new Blob(chunks).arrayBuffer();
}

/** A body's chunks as they arrive; `tooLarge()` is thrown as soon as they add up past `maxBytes`. */
export async function* boundedChunks(
  body: ReadableStream<Uint8Array<ArrayBuffer>> | null,
  maxBytes: number,
  tooLarge: () => Error,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  let size = 0;
  for await (const chunk of body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    yield chunk;
  }
}

/** The parsed body of a streamed route: its handler reads the request's stream itself. */
export const STREAMED_BODY = 'streamed';

/**
 * Every route's body parser, bounded by MAX_BODY_BYTES however it is sent (the server's own
 * limit is higher, for imports): JSON through parseJsonBody, any other type as text (routes
 * that want JSON then refuse it by their schema), or for `rawPaths` as the bytes sent. Left to
 * their routes: NDJSON (POST /ingest's parser, bounded the same way) and `streamedPaths`, whose
 * handlers read the stream themselves.
 */
export function jsonBody(
  maxBytes: number,
  streamedPaths: ReadonlySet<string> = new Set(),
  rawPaths: ReadonlySet<string> = new Set(),
) {
  return new Elysia({ name: 'json-body' }).onParse({ as: 'global' }, async ({ request }, contentType) => {
    const path = new URL(request.url).pathname;
    // A value, not undefined: Elysia would otherwise try a parser of its own on the stream.
    if (streamedPaths.has(path)) return STREAMED_BODY;
    if (contentType.startsWith('application/x-ndjson')) return;
    const bytes = await readBodyBounded(request, maxBytes);
    // Bytes as sent (gzip, say), bounded the same way: the route decodes them.
    if (rawPaths.has(path)) return bytes;
    if (contentType.startsWith('application/json')) return parseJsonBody(bytes);
    return decodeUtf8Body(bytes);
  });
}
