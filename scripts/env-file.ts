import { appendFile, readFile } from 'node:fs/promises';
import { parseEnvFile } from 'core';

/**
 * Appends `key=value` (after a comment saying why) to an env file — the root `.env` every command
 * reads — unless the file gives `key` a value already (an empty one, as `.env.example` has, is
 * none: the appended line comes last, and the last wins). Answers whether it wrote.
 */
export async function rememberSetting(file: string, key: string, value: string, why: string): Promise<boolean> {
  const text = await readFile(file, 'utf8').catch(() => '');
  if (parseEnvFile(text).get(key)) return false;
  await appendFile(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}\n# ${why}\n${key}=${value}\n`);
  return true;
}
