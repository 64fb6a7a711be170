import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

/**
 * Where alerts may be POSTed. An alert body names devices and values, and whoever can set the
 * webhook URL (or the DNS of its host) could otherwise point it at the machine itself, the
 * private network or a cloud metadata service. Only publicly routable unicast addresses pass —
 * every address the host resolves to, at start and again before each delivery, since DNS can
 * change — unless ALERT_WEBHOOK_ALLOW_PRIVATE=true (local receivers, tests).
 */

/** Names that mean this machine or a cloud's metadata service, whatever they resolve to. */
const INTERNAL_NAMES = [/^localhost$/, /\.localhost$/, /^metadata$/, /\.internal$/];

const ALLOW_HINT = 'set ALERT_WEBHOOK_ALLOW_PRIVATE=true if that is intended';

/** The range of an IP address that is not public unicast (loopback, private, linkLocal…), or undefined. */
export function nonPublicRange(address: string): string | undefined {
  // process(): an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 it carries.
  const range = ipaddr.process(address).range();
  return range === 'unicast' ? undefined : range;
}

/** The URL's host as a name or an address: lower case, without IPv6 brackets or a trailing dot. */
function hostOf(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/**
 * What is wrong with the webhook URL as written (scheme, an internal name, a non-public address
 * literal), or undefined. Names are resolved by `resolvedTargetProblem`.
 */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http: or https:';
  if (url.username || url.password)
    return 'must not carry credentials in the URL (use a token in the path, as Slack does)';
  if (allowPrivate) return undefined;
  const host = hostOf(url);
  if (INTERNAL_NAMES.some((pattern) => pattern.test(host))) return `names an internal host (${host}); ${ALLOW_HINT}`;
  const range = ipaddr.isValid(host) ? nonPublicRange(host) : undefined;
  return range ? `points at a non-public address (${host}: ${range}); ${ALLOW_HINT}` : undefined;
}

/** Thrown when the host does not resolve: the receiver may come back, so a delivery waits. */
export class UnresolvedHostError extends Error {
  override readonly name = 'UnresolvedHostError';
}

/**
 * `webhookUrlProblem`, then every address the host resolves to now.
 * @throws UnresolvedHostError when the name does not resolve (a DNS outage or a typo).
 */
export async function resolvedTargetProblem(raw: string, allowPrivate: boolean): Promise<string | undefined> {
  const written = webhookUrlProblem(raw, allowPrivate);
  if (written || allowPrivate) return written;
  const host = hostOf(new URL(raw));
  if (ipaddr.isValid(host)) return undefined;
  let addresses: Array<{ address: string }>;
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new UnresolvedHostError(`the webhook host ${host} does not resolve: ${(error as Error).message}`);
  }
  for (const { address } of addresses) {
    const range = nonPublicRange(address);
    if (range) return `${host} resolves to a non-public address (${address}: ${range}); ${ALLOW_HINT}`;
  }
  return undefined;
}
