import { describe, expect, it } from 'bun:test';
import { join, relative } from 'node:path';
import { Glob } from 'bun';

const ROOT = join(import.meta.dir, '../..');
/** Where keys are named, and what reads them as data (the layout upgrade names layout 1's keys). */
const ALLOWED = new Set(['core/src/keys.ts', 'core/src/key-layout.ts']);
/**
 * A string that ends a name with one of the suffixes keys.ts gives: `${stream}:dead`, `'alerts:acks'`,
 * `telemetry:workers`… (a heuristic: names made another way would slip past it).
 */
const KEY_SUFFIX =
  /(?:\}|[\w-])(?::|\}:)(?:dead|conflicts|receipt|state|rate|window|absence|acks|escalation|devices|evaluator|rules|silences|heartbeat|workers|epoch|key-layout)(?=[:'"`\s)]|$)/;

describe('Redis keys', () => {
  it('are named in core/src/keys.ts only (no other source builds one)', async () => {
    const offending: string[] = [];
    for await (const path of new Glob(
      '{core,api,consumer-store,consumer-alert,producer,ingest-mqtt,scripts,analysis}/src/**/*.ts',
    ).scan(ROOT))
      check(path, await Bun.file(join(ROOT, path)).text(), offending);
    for await (const path of new Glob('scripts/*.ts').scan(ROOT))
      check(path, await Bun.file(join(ROOT, path)).text(), offending);
    expect(offending).toEqual([]);
  });
});

function check(path: string, text: string, offending: string[]) {
  const file = relative(ROOT, join(ROOT, path));
  if (ALLOWED.has(file) || file.endsWith('.test.ts')) return;
  text.split('\n').forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, '').trim();
    if (code.startsWith('*') || code.startsWith('/*')) return;
    for (const literal of code.match(/(['"`])(?:(?!\1).)*\1/g) ?? [])
      if (KEY_SUFFIX.test(literal)) offending.push(`${file}:${index + 1}: ${literal}`);
  });
}
