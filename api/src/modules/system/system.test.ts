import { describe, expect, it } from 'bun:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { waitFor } from 'core/testing';
import { createTestApi, readingBody } from '../../test-helpers.ts';

describe('health, metrics and docs', () => {
  it('reports the database as reachable', async () => {
    const response = await createTestApi().request('GET', '/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', checks: { database: { status: 'ok' } } });
  });

  it('answers 503 when the database is gone', async () => {
    const api = createTestApi();
    await api.store.close();
    const response = await api.request('GET', '/health');
    expect(response.status).toBe(503);
    expect((await response.json()).checks.database.status).toBe('down');
  });

  it('counts stored rows, duplicates and requests in Prometheus text', async () => {
    const api = createTestApi();
    const readings = [readingBody(), readingBody()];
    await api.request('POST', '/readings/batch', { readings });
    await api.request('POST', '/readings/batch', { readings });
    const metricsText = async () => (await api.request('GET', '/metrics')).text();
    // Request metrics are recorded after each response is sent.
    const text = await waitFor(
      async () => {
        const current = await metricsText();
        return (
          /api_http_requests_total\{method="POST",route="\/readings\/batch",status="200"\} 2/.test(current) && current
        );
      },
      { what: 'request counter' },
    );
    expect(text).toContain('api_readings_stored_total 2');
    expect(text).toContain('api_readings_duplicates_total 2');
    expect(text).toMatch(/api_http_request_duration_seconds_count\{method="POST",route="\/readings\/batch"\} 2/);
  });

  it('serves the OpenAPI document and a UI whose assets are local, not from a CDN', async () => {
    const api = createTestApi();
    const spec = await (await api.request('GET', '/openapi/json')).json();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/readings', '/readings/batch', '/readings/export', '/stats', '/health', '/ingest']),
    );
    // Every write declares the bearer token, so Swagger UI's "Try it out" sends it.
    const writes = Object.entries(spec.paths as Record<string, Record<string, { security?: unknown }>>).flatMap(
      ([path, operations]) =>
        Object.entries(operations)
          .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
          .map(([method, operation]) => ({
            operation: `${method.toUpperCase()} ${path}`,
            security: operation.security,
          })),
    );
    expect(writes.length).toBeGreaterThanOrEqual(5);
    for (const write of writes) expect(write).toEqual({ operation: write.operation, security: [{ bearer: [] }] });
    const page = await (await api.request('GET', '/openapi')).text();
    const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      expect(asset.startsWith('/openapi/assets/')).toBe(true);
      const response = await api.request('GET', asset);
      expect(response.status).toBe(200);
      expect((await response.text()).length).toBeGreaterThan(10_000);
    }
  });

  it("serves an OpenAPI document that Redocly's recommended rules pass without an error", async () => {
    const source = await (await createTestApi().request('GET', '/openapi/json')).text();
    const problems = await lintFromString({
      source,
      absoluteRef: 'openapi.json',
      config: await createConfig({ extends: ['recommended'] }),
    });
    const errors = problems
      .filter((problem) => problem.severity === 'error')
      .map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`);
    expect(errors).toEqual([]);
    // And no warning but three: the licence the project has not chosen, and /health and /ping, which never answer a 4xx.
    const warnings = problems
      .filter((problem) => problem.severity === 'warn')
      .map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}`);
    expect(warnings).toEqual([
      'info-license at #/info',
      'operation-4xx-response at #/paths/~1ping/get/responses',
      'operation-4xx-response at #/paths/~1health/get/responses',
    ]);
  });

  it("documents every operation's answers: errors in the one error shape, streams and exports with their media types, counts as integers", async () => {
    const spec = await (await createTestApi().request('GET', '/openapi/json')).json();
    const operations = Object.entries(
      spec.paths as Record<
        string,
        Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
      >,
    ).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({
        name: `${method.toUpperCase()} ${path}`,
        responses: operation.responses,
      })),
    );
    for (const { name, responses } of operations) {
      expect({ name, answers: Object.keys(responses).length > 0 }).toEqual({ name, answers: true });
      for (const [status, response] of Object.entries(responses)) {
        // /health's 503 is its own answer (status down, with reasons), not an error.
        if (Number(status) >= 400 && name !== 'GET /health')
          expect({ name, status, schema: response.content?.['application/json']?.schema }).toEqual({
            name,
            status,
            schema: { $ref: '#/components/schemas/Error' },
          });
      }
    }
    expect(Object.keys(spec.paths).filter((path) => path.length > 1 && path.endsWith('/'))).toEqual([]);
    const mediaTypes = (path: string) => Object.keys(spec.paths[path].get.responses['200'].content);
    expect(mediaTypes('/readings/stream')).toEqual(['text/event-stream']);
    expect(mediaTypes('/alerts/stream')).toEqual(['text/event-stream']);
    expect(mediaTypes('/readings/export')).toEqual(['text/csv', 'application/x-ndjson']);
    expect(
      spec.paths['/readings/batch'].post.responses['200'].content['application/json'].schema.properties.inserted,
    ).toEqual({ type: 'integer', description: 'Readings stored now' });
    expect(spec.paths['/readings/batch'].post.responses['429']).toBeUndefined();
    expect(spec.paths['/readings'].get.responses['429'].headers['Retry-After']).toBeDefined();
  });
});
