import {
  type Alert,
  type Reading,
  type RetryAfter,
  StopConsumingError,
  encodeReadingPayload,
  parseRetryAfter,
} from 'core';

/** The API cannot be reached or is overloaded: retry, after `retryAfterMs` when it said so. */
export class TransientApiError extends Error implements RetryAfter {
  override readonly name = 'TransientApiError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type BatchReply =
  /** Stored; `rejected` names the items the API did not store (refused or in conflict), by index, with why. */
  | {
      kind: 'stored';
      inserted: number;
      duplicates: number;
      conflicts: number;
      rejected: Map<number, string>;
      conflicted: Set<number>;
    }
  /** 422: the items the API named as invalid, by index in the batch, with its message. */
  | { kind: 'invalid'; invalid: Map<number, string> }
  | { kind: 'too_large' };

/** What POST /readings/rows (and /alerts/batch, without conflicts) answers with 200. */
interface StoredAnswer {
  inserted: number;
  duplicates: number;
  conflicts?: number;
  refused?: Array<{ index: number; path: string; message: string }>;
  conflicted?: Array<{ index: number; id: string; stored: unknown }>;
}

export interface ApiClientOptions {
  /** One API, or several instances over one database. */
  apiUrls: readonly string[];
  token: string | undefined;
  timeoutMs: number;
}

/** An instance that failed is tried after the others for this long (it may be restarting). */
const DOWN_FOR_MS = 2_000;

/**
 * POSTs readings to /readings/rows (compact) and classifies the answer: stored; some items invalid (422);
 * too large (413). Throws StopConsumingError on 401/403 (retrying cannot fix a token) and
 * TransientApiError on network errors, timeouts, 429 and 5xx (and other statuses, which mean a
 * misconfigured URL: retried, loudly, never dropped).
 *
 * With several API URLs, batches take turns over the instances; one that fails transiently is
 * skipped for a while and the same batch goes to the next at once. A batch an instance stored
 * before it died is stored again elsewhere as duplicates (idempotent by id): nothing is lost.
 */
export function createApiClient({ apiUrls, token, timeoutMs }: ApiClientOptions) {
  const targets = apiUrls.map((apiUrl) => ({ apiUrl, downUntil: 0 }));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let turn = 0;

  /** One batch to one instance; `field` is the body's list (readings, alerts), as 422 details name it. */
  const postTo = async (url: string, field: string, body: string): Promise<BatchReply> => {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new TransientApiError(`API unreachable at ${url}: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) {
      const answer = JSON.parse(text) as StoredAnswer;
      const rejected = new Map<number, string>();
      const conflicted = new Set<number>();
      for (const { index, path, message } of answer.refused ?? [])
        rejected.set(index, `rejected by the API: ${path}: ${message}`);
      for (const { index, id, stored } of answer.conflicted ?? []) {
        conflicted.add(index);
        rejected.set(
          index,
          `conflict: id ${id} is already stored with other content, which stays: ${JSON.stringify(stored)}; this entry holds the version offered`,
        );
      }
      return {
        kind: 'stored',
        inserted: answer.inserted,
        duplicates: answer.duplicates,
        conflicts: answer.conflicts ?? 0,
        rejected,
        conflicted,
      };
    }
    if (response.status === 401 || response.status === 403) {
      throw new StopConsumingError(
        `API answered ${response.status} to ${url}: API_TOKEN is missing or wrong (${text.slice(0, 200)})`,
      );
    }
    if (response.status === 413) return { kind: 'too_large' };
    if (response.status === 422) {
      const invalid = new Map<number, string>();
      const details =
        (JSON.parse(text || '{}') as { details?: Array<{ path: string; message: string }> }).details ?? [];
      for (const detail of details) {
        const match = new RegExp(`^${field}\\.(\\d+)(?:\\.(.+))?$`).exec(detail.path);
        if (match) invalid.set(Number(match[1]), `rejected by the API: ${match[2] ?? 'reading'}: ${detail.message}`);
      }
      // A 422 that names no item is about the batch as a whole (its size): split it.
      return invalid.size > 0 ? { kind: 'invalid', invalid } : { kind: 'too_large' };
    }
    throw new TransientApiError(
      `API answered ${response.status} at ${url}: ${text.slice(0, 200)}`,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  };

  /** A batch to the instance whose turn it is, then to the others; instances that failed lately last. */
  const send = async (path: string, field: string, body: string): Promise<BatchReply> => {
    const now = Date.now();
    const start = turn;
    turn = (turn + 1) % targets.length;
    // This batch's turn first, then the rest; instances that failed lately last.
    const order = targets.map((_, i) => targets[(start + i) % targets.length] as (typeof targets)[number]);
    order.sort((a, b) => Number(a.downUntil > now) - Number(b.downUntil > now));
    let lastError: TransientApiError | undefined;
    for (const target of order) {
      try {
        const reply = await postTo(new URL(path, target.apiUrl).toString(), field, body);
        target.downUntil = 0;
        return reply;
      } catch (error) {
        if (!(error instanceof TransientApiError)) throw error;
        target.downUntil = Date.now() + DOWN_FOR_MS;
        lastError = error;
      }
    }
    throw lastError as TransientApiError;
  };

  return {
    /** In the compact form (POST /readings/rows): the contract's arrays, as a frame holds them. */
    postBatch(readings: readonly Reading[]): Promise<BatchReply> {
      return send('/readings/rows', 'rows', `{"rows":[${readings.map(encodeReadingPayload).join(',')}]}`);
    },
    /** Alert transitions with what the history adds: silenced or not, and when each was raised. */
    postAlerts(alerts: ReadonlyArray<{ alert: Alert; silenced: boolean; raisedAt: number }>): Promise<BatchReply> {
      const body = JSON.stringify({
        alerts: alerts.map(({ alert, silenced, raisedAt }) => ({
          ...alert,
          value: alert.value ?? null,
          threshold: alert.threshold ?? null,
          ts: new Date(alert.ts).toISOString(),
          note: alert.note ?? null,
          quiet: alert.quiet ?? false,
          silenced,
          raisedAt: new Date(raisedAt).toISOString(),
        })),
      });
      return send('/alerts/batch', 'alerts', body);
    },
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
