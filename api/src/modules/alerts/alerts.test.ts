import { describe, expect, it } from 'bun:test';
import { createTestApi } from '../../test-helpers.ts';

let sequence = 0;
function alertBody(overrides: Record<string, unknown> = {}) {
  sequence += 1;
  return {
    id: `0193a1b2-0000-7000-8000-${String(sequence).padStart(12, '0')}.1`,
    ruleId: 'hot',
    deviceId: 'pump-1',
    metric: 'temp',
    value: 91,
    threshold: 80,
    state: 'firing',
    severity: 'warning',
    ts: new Date(Date.UTC(2026, 10, 26, 10, 0, sequence)).toISOString(),
    readingId: `r-${sequence}`,
    note: null,
    silenced: false,
    quiet: false,
    raisedAt: new Date(Date.UTC(2026, 10, 26, 10, 0, sequence, 5)).toISOString(),
    ackedBy: null,
    ackedAt: null,
    ackNote: null,
    ...overrides,
  };
}

describe('alert history', () => {
  it('stores a batch once by id, names each bad item and stores the rest', async () => {
    const api = createTestApi();
    const good = [alertBody(), alertBody({ state: 'resolved', value: 70 })];
    const bad = [alertBody({ state: 'maybe' }), alertBody({ ts: '2026-13-40T00:00:00Z' }), { id: 'x' }];
    const response = await api.request('POST', '/alerts/batch', { alerts: [...good, ...bad] });
    expect(response.status).toBe(200);
    const outcome = await response.json();
    expect(outcome.inserted).toBe(2);
    expect(outcome.refused.map((item: { index: number; path: string }) => [item.index, item.path])).toEqual([
      [2, 'alerts.2.state'],
      [3, 'alerts.3.ts'],
      [4, expect.stringMatching(/^alerts\.4\./)],
    ]);
    expect(await (await api.request('POST', '/alerts/batch', { alerts: good })).json()).toEqual({
      inserted: 0,
      duplicates: 2,
      refused: [],
    });
    const listed = await (await api.request('GET', '/alerts')).json();
    expect(listed.alerts).toEqual([...good].reverse());
  });

  it('acknowledges a firing alert (who, when, why; the first stays), and names what it cannot acknowledge', async () => {
    const api = createTestApi();
    const [firing, resolved] = [alertBody(), alertBody({ state: 'resolved', value: 70 })];
    await api.request('POST', '/alerts/batch', { alerts: [firing, resolved] });
    const response = await api.request('POST', `/alerts/${firing.id}/ack`, { author: 'ops', note: 'on it' });
    expect(response.status).toBe(200);
    const acked = await response.json();
    expect(acked).toEqual({ ...firing, ackedBy: 'ops', ackedAt: expect.any(String), ackNote: 'on it' });
    expect(Number.isFinite(Date.parse(acked.ackedAt))).toBe(true);
    expect((await (await api.request('POST', `/alerts/${firing.id}/ack`, { author: 'late' })).json()).ackedBy).toBe(
      'ops',
    );
    expect((await (await api.request('GET', '/alerts')).json()).alerts[1]).toEqual(acked);
    const notFiring = await api.request('POST', `/alerts/${resolved.id}/ack`, { author: 'ops' });
    expect(notFiring.status).toBe(409);
    expect(JSON.stringify(await notFiring.json())).toContain('acknowledge a firing one');
    expect((await api.request('POST', '/alerts/no-such-alert/ack', { author: 'ops' })).status).toBe(404);
    expect((await api.request('POST', `/alerts/${firing.id}/ack`, { note: 'who?' })).status).toBe(422);
    expect((await api.request('POST', `/alerts/${firing.id}/ack`, { author: 'ops' }, {})).status).toBe(401);
  });

  it('refuses the batch without the operator token', async () => {
    const api = createTestApi();
    expect((await api.request('POST', '/alerts/batch', { alerts: [alertBody()] }, {})).status).toBe(401);
  });

  it('lists newest first with filters, every alert exactly once across cursor pages', async () => {
    const api = createTestApi();
    const alerts = Array.from({ length: 230 }, (_, i) =>
      alertBody({
        deviceId: `pump-${i % 3}`,
        ruleId: i % 2 ? 'hot' : 'cold',
        state: i % 4 === 0 ? 'resolved' : 'firing',
        silenced: i % 5 === 0,
      }),
    );
    expect((await (await api.request('POST', '/alerts/batch', { alerts })).json()).inserted).toBe(230);
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await (
        await api.request('GET', `/alerts?deviceId=pump-1&limit=17${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      expect(page.alerts.length).toBeLessThanOrEqual(17);
      ids.push(...page.alerts.map((a: { id: string }) => a.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids).toEqual(
      alerts
        .filter((a) => a.deviceId === 'pump-1')
        .map((a) => a.id)
        .reverse(),
    );
    const from = alerts[100]?.ts as string;
    const to = alerts[200]?.ts as string;
    const filtered = await (
      await api.request('GET', `/alerts?ruleId=cold&state=resolved&from=${from}&to=${to}&limit=1000`)
    ).json();
    const expected = alerts.slice(100, 200).filter((a) => a.ruleId === 'cold' && a.state === 'resolved');
    expect(expected.length).toBeGreaterThan(10);
    expect(filtered.alerts.map((a: { id: string }) => a.id)).toEqual(expected.map((a) => a.id).reverse());
    expect((await api.request('GET', '/alerts?state=open')).status).toBe(422);
    expect((await api.request('GET', '/alerts?cursor=nonsense')).status).toBe(422);
    expect((await api.request('GET', `/alerts?from=${to}&to=${from}`)).status).toBe(422);
  });
});
