import { describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { knownSettings } from './known-settings.ts';

const root = join(import.meta.dir, '..');
/** Read by tests and the tools that run them only. */
const TEST_ONLY = new Set(['PATH', 'CHROMIUM_PATH', 'FC_SEED', 'FC_PATH', 'TEST_DATABASE_URL', 'TEST_REDIS_URL']);

describe('knownSettings', () => {
  it('holds every variable the services and commands read (what start checks .env against)', async () => {
    const read = new Set<string>();
    const glob = new Bun.Glob('{api,consumer-store,consumer-alert,producer,ingest-mqtt,core}/src/**/*.ts');
    const files = [...glob.scanSync({ cwd: root }), ...new Bun.Glob('scripts/*.ts').scanSync({ cwd: root })].filter(
      (file) => !file.endsWith('.test.ts') && !file.includes('/testing/'),
    );
    for (const file of files) {
      const text = await Bun.file(join(root, file)).text();
      for (const match of text.matchAll(/\benv\.\w+\(\s*'([A-Z][A-Z0-9_]*)'|process\.env\.([A-Z][A-Z0-9_]*)/g))
        read.add((match[1] ?? match[2]) as string);
    }
    const known = knownSettings();
    expect([...read].filter((name) => !known.has(name) && !TEST_ONLY.has(name)).sort()).toEqual([]);
    expect(read.size).toBeGreaterThan(50);
  });
});
