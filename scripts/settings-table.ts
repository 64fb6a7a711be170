import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { SERVICE_SETTINGS as SERVICES } from './known-settings.ts';

const root = resolve(import.meta.dir, '..');

/**
 * A setting's default as the specs hold it: a value, or `unset` — with what depends on the machine
 * written as what it stands for (the repository's folder, the host's name), so that the table is
 * the same wherever it is made.
 */
function shown(fallback: unknown): string {
  if (fallback === undefined) return 'unset';
  if (typeof fallback === 'string') {
    // Only a trailing `-<host>` is the host's name (a short name may be part of other words).
    const host = `-${hostname()}`;
    let general = fallback;
    if (fallback.startsWith(`${root}/`)) general = fallback.slice(root.length + 1);
    else if (fallback.endsWith(host)) general = `${fallback.slice(0, -host.length)}-<hostname>`;
    return `\`${general}\``;
  }
  if (Array.isArray(fallback))
    return fallback.length === 0
      ? 'none'
      : `\`${fallback.map((item) => (typeof item === 'object' ? JSON.stringify(item) : String(item))).join(',')}\``;
  return `\`${String(fallback)}\``;
}

/**
 * The table of every service setting — its default, and which services read it — made from the
 * setting specs themselves, so it cannot drift from them (`bun run docs:settings` writes it into
 * docs/configuration.md between its markers; a test checks the page holds what this makes).
 */
export function settingsTable(): string {
  // Per setting, each service that reads it with its default (two services may differ: BATCH_SIZE).
  const rows = new Map<string, Array<{ service: string; fallback: string }>>();
  for (const [service, spec] of Object.entries(SERVICES)) {
    for (const setting of Object.values(spec))
      rows.set(setting.key, [...(rows.get(setting.key) ?? []), { service, fallback: shown(setting.fallback) }]);
  }
  const lines = [...rows.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, readers]) => {
      const defaults = new Set(readers.map((reader) => reader.fallback));
      const fallback =
        defaults.size === 1
          ? (readers[0]?.fallback as string)
          : readers.map((reader) => `${reader.fallback} (${reader.service})`).join(', ');
      const by =
        readers.length === Object.keys(SERVICES).length ? 'all' : readers.map((reader) => reader.service).join(', ');
      return `| \`${key}\` | ${fallback} | ${by} |`;
    });
  return ['| setting | default | read by |', '|---|---|---|', ...lines].join('\n');
}

export const BEGIN = '<!-- settings table: made by `bun run docs:settings` from the setting specs; do not edit -->';
export const END = '<!-- end of the settings table -->';

/** The page with the generated table put between its markers. */
export function withSettingsTable(page: string): string {
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (start === -1 || end === -1) throw new Error('docs/configuration.md has no settings-table markers');
  return `${page.slice(0, start + BEGIN.length)}\n\n${settingsTable()}\n\n${page.slice(end)}`;
}

if (import.meta.main) {
  const path = new URL('../docs/configuration.md', import.meta.url).pathname;
  await Bun.write(path, withSettingsTable(await Bun.file(path).text()));
  console.log(`wrote the settings table into ${path}`);
}
