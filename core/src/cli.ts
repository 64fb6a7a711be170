import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean'; short: 'h' } };

export interface CliSpec<O extends Options> {
  /** The command as a user types it, to start each message: `availability`, `rules:check`. */
  name: string;
  /** Printed for --help / -h, on stdout. */
  usage: string;
  options: O;
  /** How many positional arguments it takes: [at least, at most]. Default none. */
  positionals?: [number, number];
  /** Default: this process's arguments. */
  argv?: readonly string[];
}

/**
 * Every CLI's front door: `--help`/`-h` prints the usage and exits 0 before anything is done; an
 * unknown flag, a missing value or a wrong number of arguments is one line naming it and exit 2,
 * never a stack trace and never a half-started run.
 */
export function parseCli<O extends Options>(spec: CliSpec<O>) {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' } } as WithHelp<O>;
  const args = [...(spec.argv ?? process.argv.slice(2))];
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: WithHelp<O>; strict: true; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    // Before the message: a user asking for help gets it even next to a typo.
    if (args.includes('--help') || args.includes('-h')) printUsage(spec.usage);
    cliError(spec.name, (error as Error).message.split('. ')[0] as string);
  }
  if ((parsed.values as { help?: boolean }).help) printUsage(spec.usage);
  const [least, most] = spec.positionals ?? [0, 0];
  if (parsed.positionals.length < least)
    cliError(
      spec.name,
      `expects ${least === most ? least : `at least ${least}`} argument(s), got ${parsed.positionals.length}`,
    );
  if (parsed.positionals.length > most)
    cliError(spec.name, `unexpected argument ${JSON.stringify(parsed.positionals[most])}`);
  return parsed;
}

function printUsage(usage: string): never {
  console.log(usage);
  process.exit(0);
}

/** One line on stderr naming what is wrong, and exit 2. */
export function cliError(name: string, message: string): never {
  console.error(`${name}: ${message} (see --help)`);
  process.exit(2);
}

/**
 * A numeric flag's value within [min, max] (whole when `integer`), or a clear exit 2 naming it.
 */
export function cliNumber(
  name: string,
  flag: string,
  raw: unknown,
  bounds: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, integer = false } = bounds;
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const range = [min > Number.NEGATIVE_INFINITY ? `≥ ${min}` : '', max < Number.POSITIVE_INFINITY ? `≤ ${max}` : '']
      .filter(Boolean)
      .join(' and ');
    cliError(
      name,
      `--${flag} must be ${integer ? 'a whole number' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
