import { afterAll, describe, expect, it } from 'bun:test';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { resolvedTargetProblem, webhookUrlProblem } from './webhook-target.ts';
import { WebhookRejectedError, postWebhook } from './webhook.ts';
import { createLogger } from 'core';
import { createNotifier } from './notifier.ts';
import { slackMessage } from './slack-message.ts';
import { startReceiver } from './test-receiver.ts';

describe('webhook targets', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://localhost./hook',
    'http://api.localhost/hook',
    'http://2130706433/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::ffff:169.254.169.254]/latest',
    'http://metadata.google.internal./computeMetadata/v1/',
    'http://100.100.100.200/latest/meta-data',
    'http://[fd00:ec2::254]/latest',
    'http://10.0.0.7/hook',
    'http://172.16.4.2/hook',
    'http://192.168.1.20/hook',
    'http://0.0.0.0/hook',
  ])('refuses %s unless private targets are allowed', async (url) => {
    expect(webhookUrlProblem(url, false)).toContain('ALERT_WEBHOOK_ALLOW_PRIVATE=true');
    expect(await resolvedTargetProblem(url, false)).toContain('ALERT_WEBHOOK_ALLOW_PRIVATE=true');
    expect(await resolvedTargetProblem(url, true)).toBeUndefined();
  });

  it('refuses a name by where it resolves: this machine’s own name', async () => {
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    // Any machine's own name resolves to itself: loopback, or an address of a private network.
    expect(addresses.length).toBeGreaterThan(0);
    const url = `http://${name}/hook`;
    expect(webhookUrlProblem(url, false)).toBeUndefined();
    expect(await resolvedTargetProblem(url, false)).toContain(`${name.toLowerCase()} resolves to a non-public address`);
  });

  it('takes public addresses, and refuses other schemes and credentials in the URL', async () => {
    expect(await resolvedTargetProblem('https://8.8.8.8/hook', false)).toBeUndefined();
    expect(await resolvedTargetProblem('https://[2606:4700:4700::1111]/hook', false)).toBeUndefined();
    expect(webhookUrlProblem('ftp://8.8.8.8/hook', false)).toBe('must use http: or https:');
    expect(webhookUrlProblem('https://user:secret@8.8.8.8/hook', false)).toContain('credentials');
  });
});

describe('delivery', () => {
  it('checks the target again before each message: nothing goes to an internal address, the alerts stay pending', async () => {
    const internal = startReceiver();
    try {
      // As if the name had resolved to a public address at start and to this machine now.
      const notifier = createNotifier({
        logger: createLogger({ service: 'test', level: 'error', write: () => {} }),
        webhookUrl: `http://localhost:${internal.port}/hook`,
        print: () => {},
      });
      const alert = {
        id: 'a-2',
        ruleId: 'default',
        deviceId: 'd',
        metric: 'kwh',
        value: 51,
        threshold: 50,
        state: 'firing' as const,
        severity: 'warning' as const,
        ts: 1,
        readingId: 'r-2',
      };
      await expect(notifier.handle([{ entryId: '1-0', value: alert, deliveries: 1 }])).rejects.toThrow(
        'ALERT_WEBHOOK_URL: names an internal host (localhost)',
      );
      expect(internal.received).toEqual([]);
    } finally {
      internal.stop();
    }
  });
});

describe('redirects', () => {
  const target = startReceiver();
  const redirecting = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => Response.redirect(`http://127.0.0.1:${target.port}/steal`, 307),
  });
  afterAll(() => {
    target.stop();
    redirecting.stop(true);
  });

  it('are not followed: the message is refused for good and nothing reaches where it points', async () => {
    const message = slackMessage([
      {
        id: 'a-1',
        ruleId: 'default',
        deviceId: 'd',
        metric: 'kwh',
        value: 51,
        threshold: 50,
        state: 'firing',
        severity: 'warning',
        ts: 1,
        readingId: 'r-1',
      },
    ]);
    const sent = postWebhook(`http://127.0.0.1:${redirecting.port}/hook`, message, 5_000);
    await expect(sent).rejects.toBeInstanceOf(WebhookRejectedError);
    await expect(sent).rejects.toThrow(
      /answered 307, a redirect to http:\/\/127\.0\.0\.1:\d+\/steal: redirects are not followed/,
    );
    expect(target.received).toEqual([]);
  });
});
