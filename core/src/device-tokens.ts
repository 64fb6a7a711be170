/**
 * Signed device tokens: JWTs (jose) that let a device ingest its own readings, or a dashboard
 * read, without the operator's API_TOKEN. Signed with TOKEN_SECRET (HS256) or an Ed25519 key
 * pair (EdDSA: the API holds only TOKEN_PUBLIC_KEY, the minting machine TOKEN_PRIVATE_KEY).
 * Claims: `sub` the device id or a glob (`pump-*`, `*`), `scope` (`ingest`, `read`, or both,
 * space-separated), `exp`; `iss`/`aud` fixed so that a token of another system signed with the
 * same secret is refused.
 */
import { type CryptoKey, type KeyObject, SignJWT, errors, importPKCS8, importSPKI, jwtVerify } from 'jose';
import { ConfigError } from './config.ts';
import { NAME_PATTERN } from './contracts/reading.ts';
import { globMatches } from './glob.ts';

export const TOKEN_SCOPES = ['ingest', 'read'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

const ISSUER = 'telemetry-pipeline';
const AUDIENCE = 'telemetry-api';
/** Secrets shorter than this are refused: HS256 wants at least the hash's 32 bytes. */
export const MIN_SECRET_BYTES = 32;

export interface DeviceGrant {
  /** The device id or glob the token covers. */
  device: string;
  scopes: ReadonlySet<TokenScope>;
  /** Expiry, epoch seconds. */
  expiresAt: number;
}

export interface TokenKeys {
  secret?: string;
  /** PEM (SPKI) Ed25519 public key. */
  publicKey?: string;
}

type Key = Uint8Array | CryptoKey | KeyObject;

/** A device id or a glob of one: the reading contract's characters, and `*`. */
export function isDeviceGlob(value: string): boolean {
  return value.length > 0 && value.length <= 128 && new RegExp(NAME_PATTERN.replace('[', '[*')).test(value);
}

/** A device token's glob against a device id. */
export const deviceMatches = globMatches;

/** Why a token is refused, for a 401 that says so (expired, or not ours). */
export class TokenRefused extends Error {
  override readonly name = 'TokenRefused';
}

export interface TokenVerifier {
  /** True when some key is set: device tokens are accepted at all. */
  readonly configured: boolean;
  ready(): Promise<TokenVerifier>;
  verify(token: string): Promise<DeviceGrant>;
}

/**
 * Verifies a device token against the configured keys (HS256 with the secret, EdDSA with the
 * public key; each only if configured). @throws TokenRefused saying why.
 */
export function createTokenVerifier(keys: TokenKeys): TokenVerifier {
  const secret = keys.secret ? new TextEncoder().encode(keys.secret) : undefined;
  const publicKey: Promise<Key> | undefined = keys.publicKey ? importSPKI(keys.publicKey, 'EdDSA') : undefined;
  const algorithms = [...(secret ? ['HS256'] : []), ...(publicKey ? ['EdDSA'] : [])];
  const verifier: TokenVerifier = {
    configured: algorithms.length > 0,
    /** Resolves once the public key is read; @throws ConfigError naming TOKEN_PUBLIC_KEY if it is no Ed25519 key. */
    async ready(): Promise<TokenVerifier> {
      try {
        await publicKey;
      } catch (error) {
        throw new ConfigError([
          {
            key: 'TOKEN_PUBLIC_KEY',
            message: `is not an Ed25519 public key in PEM (SPKI): ${(error as Error).message}`,
          },
        ]);
      }
      return verifier;
    },
    async verify(token: string): Promise<DeviceGrant> {
      if (algorithms.length === 0)
        throw new TokenRefused('device tokens are not configured (TOKEN_SECRET or TOKEN_PUBLIC_KEY)');
      let payload: Record<string, unknown>;
      try {
        const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
          alg?: string;
        };
        const key = header.alg === 'EdDSA' ? await publicKey : secret;
        if (!key)
          throw new TokenRefused(`token signed with ${JSON.stringify(header.alg)}, which this API does not take`);
        ({ payload } = await jwtVerify(token, key, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms,
          requiredClaims: ['sub', 'exp', 'scope'],
        }));
      } catch (error) {
        if (error instanceof TokenRefused) throw error;
        if (error instanceof errors.JWTExpired) throw new TokenRefused('token expired');
        throw new TokenRefused('token invalid (tampered, malformed, or signed with another key)');
      }
      const device = payload.sub;
      const scopes = scopesOf(payload.scope);
      if (typeof device !== 'string' || !isDeviceGlob(device) || !scopes)
        throw new TokenRefused('token invalid (its device or scope is not one this API knows)');
      return { device, scopes, expiresAt: Number(payload.exp) };
    },
  };
  // Read by ready(); a key that does not import is reported there, not as an unhandled rejection.
  publicKey?.catch(() => {});
  return verifier;
}

/**
 * A token's scopes, exactly as documented: a string of known scopes separated by spaces
 * (`ingest`, `read`, `ingest read`). Anything else — an array, a number, an unknown word beside
 * a known one — is no scope at all (undefined), never read as whatever it stringifies to.
 */
export function scopesOf(claim: unknown): ReadonlySet<TokenScope> | undefined {
  if (typeof claim !== 'string') return undefined;
  const words = claim.split(' ');
  if (!words.every((word): word is TokenScope => (TOKEN_SCOPES as readonly string[]).includes(word))) return undefined;
  return new Set(words);
}

/** Mints a device token with the secret (HS256) or a PEM (PKCS8) Ed25519 private key (EdDSA). */
export async function mintDeviceToken(options: {
  device: string;
  scopes: readonly TokenScope[];
  ttlSeconds: number;
  secret?: string;
  privateKey?: string;
}): Promise<string> {
  const { device, scopes, ttlSeconds, secret, privateKey } = options;
  const jwt = new SignJWT({ scope: scopes.join(' ') })
    .setSubject(device)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1_000) + ttlSeconds);
  if (privateKey) return jwt.setProtectedHeader({ alg: 'EdDSA' }).sign(await importPKCS8(privateKey, 'EdDSA'));
  if (secret) return jwt.setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
  throw new Error('no key to sign with: TOKEN_SECRET or TOKEN_PRIVATE_KEY');
}
