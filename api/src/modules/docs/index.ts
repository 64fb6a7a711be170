import { openapi } from '@elysiajs/openapi';
import { Elysia } from 'elysia';

const ASSETS = '/openapi/assets';

/**
 * What every write declares in the document: the bearer token (API_TOKEN). Without it Swagger
 * UI's Authorize stores a token that "Try it out" never sends, and every write answers 401.
 */
export const WRITE_SECURITY = [{ bearer: [] }];
const assetFile = (name: string) => Bun.file(Bun.resolveSync(`swagger-ui-dist/${name}`, import.meta.dir));

/**
 * OpenAPI JSON at /openapi/json and Swagger UI at /openapi. The plugin loads the UI from a CDN by
 * default; here it is served from the installed swagger-ui-dist, so the docs work offline.
 */
export function docsRoutes(version: string) {
  return new Elysia({ name: 'docs' })
    .use(
      openapi({
        path: '/openapi',
        provider: 'swagger-ui',
        swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css`, autoDarkMode: true },
        documentation: {
          info: {
            title: 'Telemetry API',
            version,
            description: 'Device readings: store (idempotent by id), query, export, stats. Writes need `Authorization: Bearer <API_TOKEN>`.',
          },
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        },
      }),
    )
    .get(`${ASSETS}/swagger-ui-bundle.js`, () => assetFile('swagger-ui-bundle.js'), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui.css`, () => assetFile('swagger-ui.css'), { detail: { hide: true } });
}
