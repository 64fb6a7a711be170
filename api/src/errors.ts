import { Elysia } from 'elysia';
import type { Logger } from 'core';
import { StorageBusyError, StorageDamagedError, StorageUnavailableError } from './storage/port.ts';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** An error the API answers with on purpose: a status, a stable code, and what was wrong. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, such as Retry-After on a 429 or 503. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A 422 naming one field, for checks a schema cannot express (date order, cursor contents). */
export function invalidField(path: string, message: string): ApiError {
  return new ApiError(422, 'validation', `${path} ${message}`, [{ path, message }]);
}

const MAX_DETAILS = 20;

export function errorBody(code: string, message: string, details?: ErrorDetail[]) {
  return details ? { error: code, message, details } : { error: code, message };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** The `{ error, message }` response for an ApiError, with its headers and `WWW-Authenticate` on a 401. */
export function apiErrorResponse(error: ApiError): Response {
  const headers = error.status === 401 ? { 'www-authenticate': 'Bearer', ...error.headers } : error.headers;
  return json(error.status, errorBody(error.code, error.message, error.details), headers);
}

/** The JSON pointer of a validation error as a dotted path: `/readings/3/value` → `readings.3.value`. */
function dottedPath(pointer: string): string {
  return pointer.replace(/^\//, '').replaceAll('/', '.') || '(body)';
}

/**
 * The API's one error renderer: `{ error, message, details? }`. Bad input is 400/404/413/422 and
 * never a 500; damaged stored data is a 500 that names it (`storage_damaged`); anything else is
 * a bug, logged with its stack and answered without internals.
 */
export function errorHandler(logger: Logger, onDamaged: (error: StorageDamagedError) => void = () => {}) {
  function errorResponse({ code, error, request }: { code: unknown; error: unknown; request: Request }): Response {
    if (error instanceof ApiError) return apiErrorResponse(error);
    if (error instanceof StorageBusyError) {
      return apiErrorResponse(new ApiError(429, 'storage_busy', error.message, undefined, { 'retry-after': '1' }));
    }
    if (error instanceof StorageUnavailableError) {
      logger.warn('storage_unavailable', { error: error.message, path: new URL(request.url).pathname });
      return apiErrorResponse(
        new ApiError(
          503,
          'storage_unavailable',
          `storage is unavailable, try again shortly: ${error.message}`,
          undefined,
          { 'retry-after': '1' },
        ),
      );
    }
    if (error instanceof StorageDamagedError) {
      // Not the client's doing and not passing: named, so that an operator finds and restores it.
      logger.error('storage_damaged', { error: error.message, path: new URL(request.url).pathname });
      onDamaged(error);
      return apiErrorResponse(new ApiError(500, 'storage_damaged', error.message));
    }
    switch (code) {
      case 'VALIDATION': {
        const all = (error as { all?: Array<{ path?: string; message?: string }> }).all ?? [];
        const details = all
          .slice(0, MAX_DETAILS)
          .map((issue) => ({ path: dottedPath(issue.path ?? ''), message: issue.message ?? 'is invalid' }));
        const first = details[0];
        return json(
          422,
          errorBody('validation', first ? `${first.path}: ${first.message}` : 'request is invalid', details),
        );
      }
      case 'PARSE': {
        // Elysia wraps what a parse hook throws (jsonBody's named 400s) in its ParseError.
        const cause = (error as { cause?: unknown }).cause;
        if (cause instanceof ApiError) return apiErrorResponse(cause);
        return json(400, errorBody('malformed_body', 'request body is not valid JSON'));
      }
      case 'NOT_FOUND':
        return json(404, errorBody('not_found', `no route for ${request.method} ${new URL(request.url).pathname}`));
      case 'INVALID_COOKIE_SIGNATURE':
      case 'INVALID_FILE_TYPE':
        return json(400, errorBody('bad_request', String((error as Error).message)));
      default:
        // Elysia 1.4 throws a TypeError while building the ValidationError for a value whose
        // `toString` is not a function (e.g. {"unit": {"toString": false}}). The input was invalid
        // all the same: answer 422, not 500.
        if (error instanceof TypeError && /ValidationError|mapValueError/.test(error.stack ?? '')) {
          return json(
            422,
            errorBody(
              'validation',
              'request does not match the schema (a field holds an object where a value belongs)',
            ),
          );
        }
        logger.error('unhandled_error', {
          code: String(code),
          error,
          stack: (error as Error)?.stack,
          path: new URL(request.url).pathname,
        });
        return json(500, errorBody('internal', 'internal error; see the API log'));
    }
  }

  return new Elysia({ name: 'error-handler' }).onError({ as: 'global' }, (context) => {
    const response = errorResponse(context);
    // Told to the after-response hook too, which counts every answer by its real status.
    context.set.status = response.status;
    return response;
  });
}
