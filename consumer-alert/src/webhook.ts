import { type RetryAfter, parseRetryAfter } from 'core';
import type { WebhookMessage } from './webhook-formats.ts';

/** The receiver is away or busy (network, timeout, 5xx, 429): retry, honouring Retry-After. */
export class WebhookRetryableError extends Error implements RetryAfter {
  override readonly name = 'WebhookRetryableError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The receiver refused the message for good (400/403/404/410…, or a redirect): dead-letter it. */
export class WebhookRejectedError extends Error {
  override readonly name = 'WebhookRejectedError';
}

/**
 * POSTs one message; resolves on 2xx, throws WebhookRetryableError or WebhookRejectedError.
 * Redirects are not followed: the full alert body would go wherever the receiver points, past
 * the checks of webhook-target.ts.
 */
export async function postWebhook(url: string, message: WebhookMessage, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new WebhookRetryableError(`webhook unreachable: ${(error as Error).message}`);
  }
  const body = (await response.text().catch(() => '')).slice(0, 200);
  if (response.ok) return;
  if (response.status >= 300 && response.status < 400) {
    const location = (response.headers.get('location') ?? '(no location)').slice(0, 200);
    throw new WebhookRejectedError(
      `webhook answered ${response.status}, a redirect to ${location}: redirects are not followed; set ALERT_WEBHOOK_URL to the final address`,
    );
  }
  if (response.status === 429 || response.status === 408 || response.status >= 500) {
    throw new WebhookRetryableError(
      `webhook answered ${response.status}: ${body}`,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }
  throw new WebhookRejectedError(`webhook answered ${response.status}: ${body || response.statusText}`);
}
