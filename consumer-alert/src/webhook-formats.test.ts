import { afterAll, describe, expect, it } from 'bun:test';
import type { Alert } from 'core';
import { loadAlertConfig } from './config.ts';
import { webhookMessage } from './webhook-formats.ts';
import { postWebhook } from './webhook.ts';

const bodies: any[] = [];
const receiver = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: async (request) => {
    bodies.push(await request.json());
    return new Response('ok');
  },
});
afterAll(() => receiver.stop(true));
const url = `http://127.0.0.1:${receiver.port}/hook`;

const base: Alert = { id: 'a-1', ruleId: 'hot', deviceId: 'pump-1', metric: 'temp', value: 81, threshold: 80, state: 'firing', severity: 'critical', ts: Date.UTC(2026, 10, 22, 10), readingId: 'r-1' };
const resolved: Alert = { ...base, id: 'a-2', value: 70, state: 'resolved', ts: Date.UTC(2026, 10, 22, 10, 5), readingId: 'r-2' };

describe('ALERT_WEBHOOK_FORMAT', () => {
  it('alertmanager: the webhook format receivers built for Alertmanager read, one series one fingerprint', async () => {
    await postWebhook(url, webhookMessage('alertmanager', [base, resolved]), 5_000);
    const body = bodies.at(-1);
    expect(body).toMatchObject({ version: '4', status: 'firing', receiver: 'telemetry', groupKey: '{}:{}', alertIds: ['a-1', 'a-2'] });
    expect(body.alerts[0]).toMatchObject({
      status: 'firing',
      labels: { alertname: 'hot', device: 'pump-1', metric: 'temp', severity: 'critical' },
      annotations: { value: '81', threshold: '80', alertId: 'a-1', readingId: 'r-1' },
      startsAt: '2026-11-22T10:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
    });
    expect(body.alerts[1]).toMatchObject({ status: 'resolved', endsAt: '2026-11-22T10:05:00.000Z' });
    expect(body.alerts[0].fingerprint).toBe(body.alerts[1].fingerprint);
    expect(body.alerts[0].fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('json: the alerts as the contract has them; slack stays the default', async () => {
    await postWebhook(url, webhookMessage('json', [base]), 5_000);
    expect(bodies.at(-1)).toEqual({ alerts: [base], alertIds: ['a-1'] });
    expect(loadAlertConfig({}).webhookFormat).toBe('slack');
    expect(() => loadAlertConfig({ ALERT_WEBHOOK_FORMAT: 'teams' })).toThrow('ALERT_WEBHOOK_FORMAT');
  });
});
