/** Environment variables as Bun and Node expose them. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigProblem {
  key: string;
  message: string;
}

/** Bad configuration: lists every bad key at once, so one restart fixes them all. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    // One problem on one line (a mistyped flag, say); several as a list.
    const [only] = problems;
    super(
      problems.length === 1 && only
        ? `${only.key}: ${only.message}`
        : `invalid configuration:\n${problems.map((p) => `  - ${p.key}: ${p.message}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

/** One environment variable: its name, how to parse it, and its value when unset. */
export interface Setting<T> {
  readonly key: string;
  readonly fallback: T;
  /** Returns the parsed value or throws an Error whose message says what is expected. */
  parse(raw: string): T;
}

type SettingValues<S> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/**
 * Reads every setting of `spec` from `env` (an empty string counts as unset, as compose files
 * produce them), and returns a frozen, typed object.
 * @throws ConfigError listing every bad key, not just the first.
 */
export function loadConfig<S extends Record<string, Setting<unknown>>>(spec: S, env: Env): SettingValues<S> {
  const problems: ConfigProblem[] = [];
  const values: Record<string, unknown> = {};
  for (const [property, setting] of Object.entries(spec)) {
    const raw = env[setting.key];
    if (raw === undefined || raw === '') {
      values[property] = setting.fallback;
      continue;
    }
    try {
      values[property] = setting.parse(raw);
    } catch (error) {
      problems.push({
        key: setting.key,
        message: `${(error as Error).message}, got ${JSON.stringify(raw.slice(0, 80))}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values) as SettingValues<S>;
}

interface RangeOptions {
  min?: number;
  max?: number;
}

function inRange(value: number, { min = -Infinity, max = Infinity }: RangeOptions): number {
  if (value < min) throw new Error(`must be at least ${min}`);
  if (value > max) throw new Error(`must be at most ${max}`);
  return value;
}

/** Throws unless `raw` is a URL using one of `protocols`; `subject` begins the message. */
function assertUrl(raw: string, protocols: readonly string[], subject: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${subject}must be a URL`);
  }
  if (!protocols.includes(url.protocol)) throw new Error(`${subject}must use ${protocols.join(' or ')}`);
}

/** Builders for the usual kinds of setting. Each takes the variable name and the default. */
export const env = {
  string<T extends string | undefined>(
    key: string,
    fallback: T,
    options: { maxLength?: number } = {},
  ): Setting<string | T> {
    const maxLength = options.maxLength ?? 4096;
    return {
      key,
      fallback,
      parse(raw) {
        if (raw.length > maxLength) throw new Error(`must be at most ${maxLength} characters`);
        return raw;
      },
    };
  },

  int<T extends number | undefined>(key: string, fallback: T, range: RangeOptions = {}): Setting<number | T> {
    return {
      key,
      fallback,
      parse(raw) {
        if (!/^[+-]?\d+$/.test(raw.trim())) throw new Error('must be a whole number');
        const value = Number(raw);
        if (!Number.isSafeInteger(value)) throw new Error('is too large');
        return inRange(value, range);
      },
    };
  },

  number<T extends number | undefined>(key: string, fallback: T, range: RangeOptions = {}): Setting<number | T> {
    return {
      key,
      fallback,
      parse(raw) {
        const value = raw.trim() === '' ? Number.NaN : Number(raw);
        if (!Number.isFinite(value)) throw new Error('must be a finite number');
        return inRange(value, range);
      },
    };
  },

  bool(key: string, fallback: boolean): Setting<boolean> {
    return {
      key,
      fallback,
      parse(raw) {
        const normalized = raw.trim().toLowerCase();
        if (['1', 'true', 'yes', 'on'].includes(normalized)) return true;
        if (['0', 'false', 'no', 'off'].includes(normalized)) return false;
        throw new Error('must be true or false');
      },
    };
  },

  url<T extends string | undefined>(key: string, fallback: T, protocols: readonly string[]): Setting<string | T> {
    return {
      key,
      fallback,
      parse(raw) {
        assertUrl(raw, protocols, '');
        return raw;
      },
    };
  },

  /** A comma-separated list of URLs (at least one), e.g. several API instances. */
  urlList(key: string, fallback: readonly string[], protocols: readonly string[]): Setting<readonly string[]> {
    return {
      key,
      fallback,
      parse(raw) {
        const urls = raw
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean);
        if (urls.length === 0) throw new Error('must name at least one URL');
        urls.forEach((candidate, index) => assertUrl(candidate, protocols, `entry ${index + 1} `));
        return Object.freeze(urls);
      },
    };
  },

  oneOf<const V extends readonly string[]>(key: string, fallback: V[number], allowed: V): Setting<V[number]> {
    return {
      key,
      fallback,
      parse(raw) {
        if (!allowed.includes(raw)) throw new Error(`must be one of ${allowed.join(', ')}`);
        return raw as V[number];
      },
    };
  },
};
