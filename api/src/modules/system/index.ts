import { Elysia } from 'elysia';
import type { Db } from '../../db/client.ts';
import type { ApiMetrics } from '../../metrics.ts';

/** Whether the database answers, and how fast. The run-everything issue adds Redis and the workers. */
export function checkDatabase(db: Db): { status: 'ok' | 'down'; latencyMs: number; error?: string } {
  const started = performance.now();
  try {
    db.$client.query('SELECT 1').get();
    return { status: 'ok', latencyMs: Number((performance.now() - started).toFixed(3)) };
  } catch (error) {
    return { status: 'down', latencyMs: Number((performance.now() - started).toFixed(3)), error: (error as Error).message };
  }
}

export function systemRoutes(db: Db, metrics: ApiMetrics) {
  return new Elysia({ name: 'system', detail: { tags: ['system'] } })
    .get(
      '/health',
      ({ set }) => {
        const database = checkDatabase(db);
        const status = database.status === 'ok' ? 'ok' : 'down';
        set.status = status === 'ok' ? 200 : 503;
        return { status, checks: { api: { status: 'ok' }, database } };
      },
      { detail: { summary: 'ok (200) or down (503), with each check' } },
    )
    .get(
      '/metrics',
      async () => new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }),
      { detail: { summary: 'Prometheus metrics' } },
    );
}
