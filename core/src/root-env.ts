import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The repository's `.env` (or ENV_FILE): where `.env.example` is copied and where `bun run start`
 * writes API_TOKEN and the REDIS_URL it chose, for every other command to find.
 */
export const ROOT_ENV_FILE = process.env.ENV_FILE
  ? resolve(process.env.ENV_FILE)
  : resolve(import.meta.dir, '../../.env');

/** `KEY=value` lines as Bun reads them: `export ` allowed, quotes stripped, ` #` starts a comment. */
export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    const quoted = /^(["'])(.*)\1$/.exec(raw);
    // The last line for a key wins, as in Bun: a generated API_TOKEN after an empty one.
    values.set(key, quoted ? (quoted[2] as string) : raw.replace(/\s+#.*$/, ''));
  }
  return values;
}

/**
 * Bun loads `.env` from the working directory only, so `bun run --cwd api dev` would miss the
 * API_TOKEN that `bun run start` wrote at the root, and start with writes disabled. Every service
 * and tool calls this (through core): keys the environment already has win, the rest come from
 * the root `.env`, whatever the working directory.
 */
export function loadRootEnv(
  path: string = ROOT_ENV_FILE,
  environment: Record<string, string | undefined> = process.env,
): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  for (const [key, value] of parseEnvFile(text)) {
    if (environment[key] === undefined) environment[key] = value;
  }
}
