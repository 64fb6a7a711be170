import { createHash, timingSafeEqual } from 'node:crypto';
import { type DeviceGrant, TokenRefused, type TokenScope, type TokenVerifier, deviceMatches } from 'core';
import { ApiError } from './errors.ts';
import { queryParams } from './query-params.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * True when the Authorization header is exactly `Bearer <token>`. Both sides are hashed first so
 * the comparison takes the same time whatever the length or content of the guess.
 */
export function bearerMatches(header: string | null, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(header.slice('Bearer '.length)), digest(token));
}

/** Throws the 401/503 a write without the right token gets. */
export function requireToken(header: string | null, token: string | undefined, what: 'write' | 'read'): void {
  if (token === undefined) {
    throw new ApiError(
      503,
      'token_not_configured',
      `${what}s are disabled until API_TOKEN is set (bun run start generates one into .env)`,
    );
  }
  if (!bearerMatches(header, token)) {
    throw new ApiError(
      401,
      'unauthorized',
      `${what}s need the header "Authorization: Bearer <${what === 'write' ? 'API_TOKEN' : 'READ_TOKEN'}>"`,
    );
  }
}

/** Where a short-lived token may come in the query string: EventSource cannot send headers. */
export const QUERY_TOKEN_PATHS: ReadonlySet<string> = new Set(['/readings/stream', '/alerts/stream']);
/** Reads a device-scoped read token may make: those that filter by `?deviceId=`. */
const DEVICE_FILTERED_READS: ReadonlySet<string> = new Set([
  '/readings',
  '/readings/',
  '/readings/export',
  '/readings/stream',
  '/alerts',
  '/alerts/stream',
  '/stats',
]);
/** A token in a URL ends up in logs and histories: it must expire within this. */
export const MAX_QUERY_TOKEN_SECONDS = 3_600;

/**
 * InfluxDB's write doors (line protocol): their clients send `Token <token>`, or v1's password —
 * `?p=<token>` or HTTP Basic with the token as the password (InfluxDB 2's v1 compatibility).
 */
export const LINE_PROTOCOL_PATHS: ReadonlySet<string> = new Set(['/api/v2/write', '/write']);

/** The token a line-protocol client sent: `Authorization: Token|Bearer <token>` or Basic's password, else `?p=`. */
function lineProtocolToken(header: string | null, url: string): string | undefined {
  const match = header === null ? null : /^(Token|Bearer|Basic) (.+)$/.exec(header);
  if (match?.[1] === 'Basic') return basicPassword(match[2] as string);
  if (match) return match[2];
  return header === null ? queryParams(url).p : undefined;
}

/** The password of HTTP Basic's `user:password` (base64); undefined without a colon. */
function basicPassword(encoded: string): string | undefined {
  const pair = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  return colon < 0 ? undefined : pair.slice(colon + 1);
}

const matches = (given: string, token: string) => timingSafeEqual(digest(given), digest(token));

const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);

export interface AuthOptions {
  apiToken: string | undefined;
  readToken: string | undefined;
  verifier: TokenVerifier;
  /** Reads anyone may make even with READ_TOKEN set (the page shell, /health's status). */
  publicReadPaths: ReadonlySet<string>;
}

/**
 * Who may make this request, decided before routing: the operator's API_TOKEN (writes), the
 * READ_TOKEN (reads, when set), or a signed device token — `ingest` scope for POST /ingest (the
 * handler then checks each reading's device), `read` scope for reads (a token for one device or
 * a glob reads only with a matching `?deviceId=`). Resolves to the device grant, if a device
 * token was used; throws the 401/403/503 otherwise. Synchronous unless a device token is checked.
 */
export function createAuthorizer({ apiToken, readToken, verifier, publicReadPaths }: AuthOptions) {
  const verified = async (token: string, scope: TokenScope): Promise<DeviceGrant> => {
    let grant: DeviceGrant;
    try {
      grant = await verifier.verify(token);
    } catch (error) {
      if (error instanceof TokenRefused) throw new ApiError(401, 'unauthorized', error.message);
      throw error;
    }
    if (!grant.scopes.has(scope))
      throw new ApiError(403, 'forbidden', `this token's scope is ${[...grant.scopes].join(' ')}; it may not ${scope}`);
    return grant;
  };

  return function authorize(request: Request): undefined | Promise<DeviceGrant | undefined> {
    const header = request.headers.get('authorization');
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    const { method } = request;
    const deviceToken = (token: string | undefined): token is string =>
      token !== undefined && verifier.configured && looksLikeJwt(token);

    if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') {
      if (apiToken !== undefined && bearerMatches(header, apiToken)) return undefined;
      const path = new URL(request.url).pathname;
      if (method === 'POST' && LINE_PROTOCOL_PATHS.has(path)) {
        const token = lineProtocolToken(header, request.url);
        if (token !== undefined && apiToken !== undefined && matches(token, apiToken)) return undefined;
        if (deviceToken(token)) return verified(token, 'ingest');
        if (apiToken === undefined) requireToken(header, apiToken, 'write');
        throw new ApiError(
          401,
          'unauthorized',
          'line protocol writes need "Authorization: Token <API_TOKEN or a device token>" (or v1\'s ?p=<token>, or Basic with the token as the password)',
        );
      }
      if (deviceToken(bearer)) {
        if (path !== '/ingest')
          throw new ApiError(
            403,
            'forbidden',
            'device tokens may only POST /ingest and the line protocol doors; other writes need API_TOKEN',
          );
        return verified(bearer, 'ingest');
      }
      requireToken(header, apiToken, 'write');
      return undefined;
    }

    // The URL is read only past the checks that need none (the operator's writes, open reads).
    if (readToken === undefined) return undefined;
    const url = new URL(request.url);
    const path = url.pathname;
    // The parameters as the handler will read them: a check of one spelling and a read of another cannot disagree.
    const query = queryParams(request.url);
    if (publicReadPaths.has(path)) {
      // Open to anyone; a valid read token for every device also gets what READ_TOKEN gets (/health's details).
      return deviceToken(bearer)
        ? verified(bearer, 'read').then(
            (grant) => (grant.device === '*' ? grant : undefined),
            () => undefined,
          )
        : undefined;
    }
    if (bearerMatches(header, readToken)) return undefined;
    const fromQuery = bearer === undefined && QUERY_TOKEN_PATHS.has(path) ? query.access_token : undefined;
    const token = bearer ?? fromQuery;
    if (!deviceToken(token)) {
      requireToken(header, readToken, 'read');
      return undefined;
    }
    return verified(token, 'read').then((grant) => {
      if (fromQuery !== undefined && grant.expiresAt - Date.now() / 1_000 > MAX_QUERY_TOKEN_SECONDS) {
        throw new ApiError(
          401,
          'unauthorized',
          `a token in the query string must expire within ${MAX_QUERY_TOKEN_SECONDS / 60} minutes (mint one with --ttl 1h); use the Authorization header for longer-lived tokens`,
        );
      }
      if (grant.device !== '*') {
        const asked = query.deviceId;
        if (!DEVICE_FILTERED_READS.has(path) || asked === undefined || !deviceMatches(grant.device, asked)) {
          throw new ApiError(
            403,
            'forbidden',
            `this token reads ${grant.device} only: /readings, /readings/export, /readings/stream, /alerts/stream or /stats with ?deviceId= one of its devices`,
          );
        }
      }
      return grant;
    });
  };
}
