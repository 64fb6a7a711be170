import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRootEnv, parseEnvFile } from './root-env.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'root-env-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the repository .env, from any working directory', () => {
  it('reads it as Bun does: the last line for a key wins (a generated API_TOKEN after the empty one), quotes and comments', () => {
    const values = parseEnvFile(
      '# comment\nAPI_TOKEN=\nexport PORT=3001\nNAME="a # b"\nLEVEL=debug # why\n\n# Generated\nAPI_TOKEN=abc=def\n',
    );
    expect(Object.fromEntries(values)).toEqual({ API_TOKEN: 'abc=def', PORT: '3001', NAME: 'a # b', LEVEL: 'debug' });
  });

  it('fills what the environment lacks and never overrides what it has; no file is no change', async () => {
    const file = join(dir, '.env');
    await writeFile(file, 'API_TOKEN=from-file\nPORT=3001\n');
    const environment: Record<string, string | undefined> = { PORT: '4000' };
    loadRootEnv(file, environment);
    expect(environment).toEqual({ PORT: '4000', API_TOKEN: 'from-file' });
    loadRootEnv(join(dir, 'missing.env'), environment);
    expect(environment).toEqual({ PORT: '4000', API_TOKEN: 'from-file' });
  });
});
