/**
 * Response declarations for the OpenAPI document: what each route can answer besides its success,
 * in the API's one error shape. Routes put them in `detail.responses`; the document keeps them
 * beside the success responses Elysia derives from `response` schemas (see document.ts).
 */

/** `{ error, message, details? }`: every error the API answers with (errors.ts). */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'A stable code, e.g. validation, unauthorized, storage_busy' },
    message: { type: 'string', description: 'What was wrong, for a person' },
    details: {
      type: 'array',
      description: 'Each field that was wrong (at most 20)',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

const WHY = {
  400: 'Malformed body (not JSON, not UTF-8, nested too deep) or a query parameter given twice',
  401: 'No token, or the wrong one (API_TOKEN for writes, READ_TOKEN for reads when it is set)',
  403: 'A device token used beyond what it grants (another device, another scope, another route)',
  404: 'No such reading (or import, rule set, silence, device)',
  409: 'The id is stored with other content',
  412: 'If-Match names a version that is no longer the current one',
  413: 'Body over MAX_BODY_BYTES',
  415: 'Unsupported content type',
  422: 'A field is invalid; `details` names each',
  429: 'Too many at once (live streams, or long reads waiting for storage); retry after Retry-After',
  503: 'Storage or Redis unavailable, past its time budget, or writes disabled (no API_TOKEN); retry after Retry-After',
  507: 'Not enough free space where the upload would be kept (IMPORT_DIR); nothing was kept',
} as const;

/**
 * An OpenAPI response object. Schemas are plain JSON Schema (or TypeBox, which is JSON Schema):
 * `any` because the route option's type wants the OpenAPI package's own schema type.
 */
export interface DocumentedResponse {
  description: string;
  headers?: Record<string, { description: string; schema: { type: 'integer' } }>;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  content?: Record<string, { schema: any }>;
}

/** An OpenAPI request body, for routes that parse their own (schemas typed as DocumentedResponse's). */
export interface DocumentedBody {
  required: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: see DocumentedResponse
  content: Record<string, { schema: any }>;
}

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' as const } },
};

/** Error responses by status, each with the error schema (and Retry-After on 429 and 503). */
export function errorResponses(...statuses: Array<keyof typeof WHY>): Record<string, DocumentedResponse> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: WHY[status],
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );
}

/** A success answer of the given media types, each a string body (streams, CSV, metrics). */
export function textResponse(description: string, ...mediaTypes: string[]): DocumentedResponse {
  return { description, content: Object.fromEntries(mediaTypes.map((type) => [type, { schema: { type: 'string' } }])) };
}

/** A success answer in JSON with this schema. */
export function jsonResponse(description: string, schema: object): DocumentedResponse {
  return { description, content: { 'application/json': { schema } } };
}
