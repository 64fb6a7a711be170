/**
 * Every command-line tool answers `--help` and `-h` with its usage and exit 0 before it does
 * anything (no Redis, API or file is needed to ask), and a mistyped flag with one line naming it
 * and exit 2 — never a stack trace, never a half-started run.
 */
import { describe, expect, it } from 'bun:test';
import { join } from 'node:path';

const root = join(import.meta.dir, '..');
const CLIS: Record<string, string> = {
  producer: 'producer/src/index.ts',
  analysis: 'analysis/src/index.ts',
  bench: 'bench/src/index.ts',
  'bench:store': 'bench/src/store.ts',
  'bench:alert': 'bench/src/alert.ts',
  'bench:analysis': 'bench/src/analysis.ts',
  'bench:hostile': 'bench/src/hostile.ts',
  'bad-backlog': 'bench/src/bad-backlog.ts',
  status: 'scripts/status.ts',
  availability: 'scripts/availability.ts',
  deadletters: 'scripts/deadletters.ts',
  'rules:check': 'consumer-alert/src/rules-check.ts',
  rebuild: 'consumer-store/src/rebuild.ts',
  token: 'scripts/token.ts',
  start: 'scripts/start.ts',
};

/** Runs a tool with nothing to talk to: Redis and the API point at a closed port. */
async function run(entry: string, args: string[]) {
  const child = Bun.spawn(['bun', join(root, entry), ...args], {
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:9', API_URL: 'http://127.0.0.1:9' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

describe('every CLI', () => {
  for (const [name, entry] of Object.entries(CLIS)) {
    it(`${name}: --help and -h print the usage and exit 0; --bogus is one line and exit 2`, async () => {
      for (const flag of ['--help', '-h']) {
        const help = await run(entry, [flag]);
        expect({ flag, code: help.code, stderr: help.stderr }).toEqual({ flag, code: 0, stderr: '' });
        expect(help.stdout).toMatch(/^Usage: /);
      }
      const bogus = await run(entry, ['--bogus']);
      expect(bogus.code).toBe(2);
      expect(bogus.stdout).toBe('');
      expect(bogus.stderr.trim().split('\n')).toHaveLength(1);
      expect(bogus.stderr).toContain('--bogus');
    });
  }

  it('refuses bad values with the flag named: availability --concurrency 0, status with a non-URL, rules:check with a sample that is not JSON', async () => {
    const concurrency = await run(CLIS.availability as string, ['--concurrency', '0']);
    expect(concurrency).toMatchObject({
      code: 2,
      stderr: 'availability: --concurrency must be a whole number ≥ 1 and ≤ 100000, got "0" (see --help)\n',
    });
    const status = await run(CLIS.status as string, ['not a url']);
    expect(status).toMatchObject({
      code: 2,
      stderr: 'status: API_URL must be an http(s) URL, got "not a url" (see --help)\n',
    });
    const sample = await run(CLIS['rules:check'] as string, [
      join(root, 'consumer-alert/rules.example.json'),
      '{deviceId: 1}',
    ]);
    expect(sample.code).toBe(2);
    expect(sample.stderr).toStartWith('rules:check: READING_JSON is not JSON');
    expect(sample.stderr).not.toContain('    at ');
  });
});
