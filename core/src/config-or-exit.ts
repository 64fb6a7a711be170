import { ConfigError } from './config.ts';

/**
 * Loads a service's configuration or stops it with exit code 2 and one message naming every bad
 * setting (no stack trace: bad configuration is the operator's to fix, not a crash).
 */
export async function configOrExit<T>(service: string, load: () => T | Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${service}: ${error.message}`);
    process.exit(2);
  }
}
