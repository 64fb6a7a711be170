import { toOpenAPISchema } from '@elysiajs/openapi';
import type { AnyElysia } from 'elysia';
import { ERROR_SCHEMA } from './responses.ts';

/** Writes need API_TOKEN (the bearer token). Without it Swagger UI's "Try it out" sends no token. */
export const WRITE_SECURITY = [{ bearer: [] }];
/** Reads need READ_TOKEN only when it is set: anonymous or bearer. */
export const READ_SECURITY = [{}, { bearer: [] }];
const WRITE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

type Operation = { responses?: Record<string, object>; security?: unknown; [key: string]: unknown };

/**
 * The served OpenAPI document: the plugin's derivation of paths and schemas from the routes, plus
 * what it leaves out — each route's declared responses (errors, media types of streams and
 * exports) kept beside the derived success responses, the security every operation has (the
 * same rule as app.ts: writes the API token, reads the read token when set), the error schema,
 * and paths without a trailing slash (`/readings`, which the API also answers).
 */
export function openApiDocument(app: AnyElysia, info: { title: string; version: string; description: string }) {
  const { paths, components } = toOpenAPISchema(app) as {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, object> };
  };
  const declared = new Map<string, Record<string, object> | undefined>();
  for (const route of app.routes) {
    const path = route.path.replace(/:([^/]+)/g, '{$1}');
    declared.set(
      `${route.method.toLowerCase()} ${path}`,
      (route.hooks as { detail?: { responses?: Record<string, object> } } | undefined)?.detail?.responses,
    );
  }
  const documented: Record<string, Record<string, Operation>> = {};
  for (const [path, item] of Object.entries(paths)) {
    const clean = path.length > 1 ? path.replace(/\/$/, '') : path;
    documented[clean] = Object.fromEntries(
      Object.entries(item).map(([method, operation]) => [
        method,
        {
          ...operation,
          responses: { ...declared.get(`${method} ${path}`), ...operation.responses },
          security: WRITE_METHODS.has(method) ? WRITE_SECURITY : READ_SECURITY,
        },
      ]),
    );
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/', description: 'This API' }],
    paths: documented,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'API_TOKEN for writes; READ_TOKEN for reads when it is set',
        },
      },
      schemas: { ...components.schemas, Error: ERROR_SCHEMA },
    },
  };
}
