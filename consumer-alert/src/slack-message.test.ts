import { afterAll, describe, expect, it } from 'bun:test';
import type { Alert } from 'core';
import { SLACK_LIMITS, slackMessage } from './slack-message.ts';
import { postWebhook } from './webhook.ts';

/** Every text of a message that Slack measures, with its limit. */
function measured(message: {
  text: string;
  blocks: unknown[];
}): Array<{ what: string; length: number; limit: number }> {
  const found: Array<{ what: string; length: number; limit: number }> = [
    { what: 'text', length: message.text.length, limit: SLACK_LIMITS.text },
  ];
  for (const block of message.blocks as Array<{
    type: string;
    text?: { text: string };
    fields?: Array<{ text: string }>;
    elements?: Array<{ text: string }>;
  }>) {
    if (block.type === 'header')
      found.push({ what: 'header', length: block.text?.text.length ?? 0, limit: SLACK_LIMITS.header });
    if (block.type === 'section' && block.text)
      found.push({ what: 'section', length: block.text.text.length, limit: SLACK_LIMITS.sectionText });
    for (const field of block.fields ?? [])
      found.push({ what: 'field', length: field.text.length, limit: SLACK_LIMITS.field });
    for (const element of block.elements ?? [])
      found.push({ what: 'context', length: element.text.length, limit: SLACK_LIMITS.field });
  }
  return found;
}

/** A receiver that refuses what Slack refuses: 400 for any oversize field or too many blocks. */
const strictSlack = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(request) {
    const message = (await request.json()) as { text: string; blocks: unknown[] };
    const oversize = measured(message).filter((field) => field.length > field.limit);
    if (message.blocks.length > SLACK_LIMITS.blocks) return new Response('invalid_blocks', { status: 400 });
    return oversize.length > 0
      ? new Response(`invalid_blocks: ${oversize[0]?.what}`, { status: 400 })
      : new Response('ok');
  },
});
afterAll(() => strictSlack.stop(true));
const hook = `http://127.0.0.1:${strictSlack.port}/hook`;

let sequence = 0;
function alert(overrides: Partial<Alert> = {}): Alert {
  sequence += 1;
  const id = `019a5e2c-7b1a-7c3e-9f00-${String(sequence).padStart(12, '0')}`;
  return {
    id,
    ruleId: 'default',
    deviceId: 'device-004',
    metric: 'kwh',
    value: 50.01,
    threshold: 50,
    state: 'firing',
    severity: 'warning',
    ts: 1_763_800_000_123,
    readingId: id,
    ...overrides,
  };
}

const longest = {
  deviceId: 'd'.repeat(128),
  metric: 'm'.repeat(64),
  ruleId: 'r'.repeat(128),
  id: 'i'.repeat(64),
  readingId: 'x'.repeat(64),
};

describe('Slack messages fit Slack, whatever the input', () => {
  it('one alert with the longest ids the contract allows is accepted, its header cut with an ellipsis', async () => {
    const message = slackMessage([alert(longest)]);
    await postWebhook(hook, message, 5_000);
    const header = (message.blocks[0] as { text: { text: string } }).text.text;
    expect(header).toHaveLength(SLACK_LIMITS.header);
    expect(header.endsWith('…')).toBe(true);
  });

  it('the biggest digest (1,000 alerts with the longest ids) is accepted, and says how many it could not list', async () => {
    const alerts = Array.from({ length: 1_000 }, () =>
      alert({ ...longest, id: `${'i'.repeat(52)}${String(++sequence).padStart(12, '0')}` }),
    );
    const message = slackMessage(alerts);
    await postWebhook(hook, message, 5_000);
    expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    expect(message.text).toMatch(/… and \d+ more$/);
    expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    // Every id still travels, for a receiver that dedupes a retried message.
    expect(message.alertIds).toHaveLength(1_000);
  });
});
