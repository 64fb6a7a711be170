/**
 * `bun run token --device pump-7 --scope ingest --ttl 30d`: mints a signed device token with
 * TOKEN_SECRET (HS256) or TOKEN_PRIVATE_KEY (Ed25519, PEM). The token is alone on the last line,
 * so `TOKEN=$(bun run token … | tail -n 1)` works.
 */
import {
  MIN_SECRET_BYTES,
  TOKEN_SCOPES,
  type TokenScope,
  cliError,
  isDeviceGlob,
  mintDeviceToken,
  parseCli,
} from 'core';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

const { values } = parseCli({
  name: 'token',
  usage: `Usage: bun run token --device <id or glob> [--scope ingest|read|ingest,read] [--ttl 30d]
  Mints a signed device token for the API (POST /ingest with scope ingest; reads with scope read).
  --device   the device id it covers, or a glob (pump-*, or * for every device)
  --all-devices  needed with --device '*' and the ingest scope: such a token may publish
             readings as any device, so it asks to be meant
  --scope    what it may do: ingest (default), read, or ingest,read
  --ttl      how long it lives: a number with s, m, h or d (default 30d; at most 3650d).
             Tokens passed in a stream URL (?access_token=) must expire within 1h.
  Signs with TOKEN_SECRET (HS256, ≥ ${MIN_SECRET_BYTES} bytes) or TOKEN_PRIVATE_KEY (Ed25519 PEM; the API then
  needs TOKEN_PUBLIC_KEY). The token is alone on the last line.`,
  options: {
    device: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string' },
    'all-devices': { type: 'boolean' },
  },
});

const device = values.device;
if (device === undefined) cliError('token', '--device is required');
if (!isDeviceGlob(device))
  cliError(
    'token',
    `--device must be a device id or a glob of letters, digits, . _ : - and *, got ${JSON.stringify(device)}`,
  );
const scopes = (values.scope ?? 'ingest').split(',').map((scope) => scope.trim());
for (const scope of scopes)
  if (!(TOKEN_SCOPES as readonly string[]).includes(scope))
    cliError('token', `--scope must be ingest, read or ingest,read, got ${JSON.stringify(values.scope)}`);
if (device === '*' && scopes.includes('ingest') && !values['all-devices']) {
  cliError(
    'token',
    "a token for --device '*' with the ingest scope may publish readings as any device; add --all-devices if that is what you mean (or name a device or a glob such as pump-*)",
  );
}
const ttl = /^(\d+)([smhd])$/.exec(values.ttl ?? '30d');
const ttlSeconds = ttl ? Number(ttl[1]) * (UNITS[ttl[2] as string] as number) : Number.NaN;
if (!(ttlSeconds > 0 && ttlSeconds <= 3_650 * 86_400))
  cliError('token', `--ttl must be a number with s, m, h or d, up to 3650d, got ${JSON.stringify(values.ttl)}`);

// A PEM in one .env line keeps its newlines as \n.
const privateKey = process.env.TOKEN_PRIVATE_KEY?.replaceAll('\\n', '\n') || undefined;
const secret = process.env.TOKEN_SECRET || undefined;
if (!privateKey && !secret)
  cliError(
    'token',
    `set TOKEN_SECRET (e.g. echo "TOKEN_SECRET=$(openssl rand -base64 32)" >> .env; the API needs the same) or TOKEN_PRIVATE_KEY`,
  );
if (!privateKey && secret && Buffer.byteLength(secret) < MIN_SECRET_BYTES)
  cliError('token', `TOKEN_SECRET must be at least ${MIN_SECRET_BYTES} bytes`);

let token: string;
try {
  token = await mintDeviceToken({ device, scopes: scopes as TokenScope[], ttlSeconds, secret, privateKey });
} catch (error) {
  cliError('token', `TOKEN_PRIVATE_KEY is not an Ed25519 private key in PEM (PKCS8): ${(error as Error).message}`);
}
if (device === '*' && scopes.includes('ingest'))
  console.error('warning: this token may publish readings as every device; keep it like API_TOKEN');
console.log(
  `device ${device} · scope ${scopes.join(' ')} · expires ${new Date(Date.now() + ttlSeconds * 1_000).toISOString()} · ${privateKey ? 'EdDSA' : 'HS256'}`,
);
console.log(token);
