import { describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createTokenVerifier } from 'core';
import { SignJWT } from 'jose';

// Hostile tokens: claims in shapes the documentation does not name. A scope given as an array
// was read through String(...) ("ingest,read" → nothing; ["ingest"] → "ingest": accepted).
const SECRET = 'a-device-token-secret-of-32-bytes!!';

const signed = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('telemetry-pipeline')
    .setAudience('telemetry-api')
    .setExpirationTime(Math.floor(Date.now() / 1_000) + 600)
    .setSubject('pump-7')
    .sign(new TextEncoder().encode(SECRET));

describe('device tokens, exactly as documented', () => {
  const verifier = createTokenVerifier({ secret: SECRET });

  it('take a scope only as a string of known scopes', async () => {
    expect([...(await verifier.verify(await signed({ scope: 'ingest' }))).scopes]).toEqual(['ingest']);
    expect([...(await verifier.verify(await signed({ scope: 'ingest read' }))).scopes]).toEqual(['ingest', 'read']);
    for (const scope of [
      ['ingest'],
      ['ingest', 'read'],
      'ingest admin',
      'ingest,read',
      '',
      ' ingest',
      1,
      { ingest: true },
      null,
    ]) {
      await expect(verifier.verify(await signed({ scope }))).rejects.toThrow(
        'token invalid (its device or scope is not one this API knows)',
      );
    }
  });

  it('mint a token for every device with the ingest scope only when asked in so many words', async () => {
    const run = async (args: string[]) => {
      const child = Bun.spawn(['bun', join(import.meta.dir, '..', 'scripts', 'token.ts'), ...args], {
        env: { ...process.env, TOKEN_SECRET: SECRET },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const [stdout, stderr, code] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ]);
      return { stdout, stderr, code };
    };
    const refused = await run(['--device', '*', '--scope', 'ingest']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('add --all-devices');
    const meant = await run(['--device', '*', '--scope', 'ingest', '--all-devices']);
    expect(meant.code).toBe(0);
    expect(meant.stderr).toContain('may publish readings as every device');
    expect((await verifier.verify(meant.stdout.trim().split('\n').at(-1) as string)).device).toBe('*');
    expect((await run(['--device', '*', '--scope', 'read'])).code).toBe(0);
  });
});
