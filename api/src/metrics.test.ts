import { describe, expect, it } from 'bun:test';
import { waitFor } from 'core/testing';
import { createTestApi, readingBody } from './test-helpers.ts';

/** `api_http_requests_total` as {"METHOD route status": count}. */
function requestCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(
    /^api_http_requests_total\{method="([^"]+)",route="([^"]*)",status="(\d+)"\} (\d+)$/gm,
  )) {
    counts[`${match[1]} ${match[2]} ${match[3]}`] = Number(match[4]);
  }
  return counts;
}

describe('/metrics counts every answer by its real status', () => {
  it('counts 2xx, 204, 401, 404, 413 and 422 as such, with bounded route labels', async () => {
    const api = createTestApi({ maxBodyBytes: 2_000 });
    const created = await (await api.request('POST', '/readings', readingBody())).json();
    await api.request('DELETE', `/readings/${created.id}`);
    await api.request('DELETE', '/readings/missing');
    await api.request('POST', '/readings', readingBody(), {}); // no token
    await api.request('POST', '/readings', 'x'.repeat(3_000)); // too large
    await api.request('POST', '/readings', readingBody({ value: 'x' }));
    for (const path of ['/nope', '/nope/2', '/.env']) await api.request('GET', path);
    // Counted after each answer is sent: wait until the last one is in.
    const text = await waitFor(
      async () => {
        const scraped = await (await api.request('GET', '/metrics')).text();
        return requestCounts(scraped)['GET unmatched 404'] === 3 && scraped;
      },
      { what: 'the requests counted' },
    );
    expect(requestCounts(text)).toMatchObject({
      'POST /readings/ 201': 1,
      'DELETE /readings/:id 204': 1,
      'DELETE /readings/:id 404': 1,
      'POST refused_before_routing 401': 1,
      'POST refused_before_routing 413': 1,
      'POST /readings/ 422': 1,
      // Three unknown paths, one series: a scanner cannot grow the metrics.
      'GET unmatched 404': 3,
    });
    expect(Object.keys(requestCounts(text)).some((key) => key.endsWith(' 200') && key.startsWith('DELETE'))).toBe(
      false,
    );
  });
});
