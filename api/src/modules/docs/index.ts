import { type AnyElysia, Elysia } from 'elysia';
import { openApiDocument } from './document.ts';

const ASSETS = '/openapi/assets';
const assetFile = (name: string) => Bun.file(Bun.resolveSync(`swagger-ui-dist/${name}`, import.meta.dir));

const INFO = {
  title: 'Telemetry API',
  description:
    'Device readings: ingest through the stream, store (idempotent by id), query, export, statistics, live streams, health and metrics. ' +
    'Writes need `Authorization: Bearer <API_TOKEN>`; reads need `Authorization: Bearer <READ_TOKEN>` when READ_TOKEN is set. ' +
    'Errors are `{ error, message, details? }`.',
};

/** Swagger UI, from the installed swagger-ui-dist (no CDN: the docs work offline). */
const page = (title: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title}</title>
  <link rel="stylesheet" href="${ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${ASSETS}/swagger-ui-bundle.js"></script>
  <script>window.onload = () => { window.ui = SwaggerUIBundle({ url: '/openapi/json', dom_id: '#swagger-ui' }); };</script>
</body>
</html>`;

/**
 * OpenAPI 3.1 at /openapi/json (built once, from the whole app: `app()` is the app this is part
 * of) and Swagger UI at /openapi.
 */
export function docsRoutes(version: string, app: () => AnyElysia) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  return new Elysia({ name: 'docs' })
    .get(
      '/openapi',
      () => new Response(page(INFO.title), { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      { detail: { hide: true } },
    )
    .get('/openapi/json', () => (document ??= openApiDocument(app(), { ...INFO, version })), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui-bundle.js`, () => assetFile('swagger-ui-bundle.js'), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui.css`, () => assetFile('swagger-ui.css'), { detail: { hide: true } });
}
