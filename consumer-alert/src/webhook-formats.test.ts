import { afterAll, describe, expect, it } from 'bun:test';
import type { Alert } from 'core';
import { loadAlertConfig } from './config.ts';
import { startReceiver } from './test-receiver.ts';
import { webhookMessage } from './webhook-formats.ts';
import { postWebhook } from './webhook.ts';

const receiver = startReceiver();
afterAll(() => receiver.stop());
const url = receiver.url;

const base: Alert = {
  id: 'a-1',
  ruleId: 'hot',
  deviceId: 'pump-1',
  metric: 'temp',
  value: 81,
  threshold: 80,
  state: 'firing',
  severity: 'critical',
  ts: Date.UTC(2026, 10, 22, 10),
  readingId: 'r-1',
};
const resolved: Alert = {
  ...base,
  id: 'a-2',
  value: 70,
  state: 'resolved',
  ts: Date.UTC(2026, 10, 22, 10, 5),
  readingId: 'r-2',
};

describe('ALERT_WEBHOOK_FORMAT', () => {
  it('alertmanager: the webhook format receivers built for Alertmanager read, one series one fingerprint', async () => {
    await postWebhook(url, webhookMessage('alertmanager', [base, resolved]), 5_000);
    const body = receiver.received.at(-1)?.body as any;
    expect(body).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'telemetry',
      groupKey: '{}:{}',
      alertIds: ['a-1', 'a-2'],
    });
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
    expect(receiver.received.at(-1)?.body).toEqual({ alerts: [base], alertIds: ['a-1'] });
    expect(loadAlertConfig({}).webhookFormat).toBe('slack');
    expect(() => loadAlertConfig({ ALERT_WEBHOOK_FORMAT: 'teams' })).toThrow('ALERT_WEBHOOK_FORMAT');
  });
});
