export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  service: string;
  /** Lines below this level are skipped. Default `info`. */
  level?: LogLevel;
  /** Human-readable lines instead of JSON. Default: LOG_FORMAT (`pretty`/`json`), else when stdout is a TTY. */
  pretty?: boolean;
  /** Where lines go. Default: stdout. */
  write?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const COLOUR: Record<LogLevel, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' };

/**
 * One line per outcome: JSON for machines (`{"time","level","service","event",...fields}`),
 * or a short coloured line on a terminal.
 */
export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const { service, level = 'info' } = options;
  const format = process.env.LOG_FORMAT;
  const pretty = options.pretty ?? (format === 'pretty' || (format !== 'json' && Boolean(process.stdout.isTTY)));
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const minimum = RANK[level];

  const log = (lineLevel: LogLevel, event: string, fields: LogFields = {}) => {
    if (RANK[lineLevel] < minimum) return;
    const all = { ...bound, ...fields };
    const time = new Date().toISOString();
    write(pretty ? prettyLine(time, lineLevel, service, event, all) : jsonLine(time, lineLevel, service, event, all));
  };

  return {
    debug: (event, fields) => log('debug', event, fields),
    info: (event, fields) => log('info', event, fields),
    warn: (event, fields) => log('warn', event, fields),
    error: (event, fields) => log('error', event, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

function jsonLine(time: string, level: LogLevel, service: string, event: string, fields: LogFields): string {
  return `${JSON.stringify({ time, level, service, event, ...fields }, replaceErrors)}\n`;
}

function prettyLine(time: string, level: LogLevel, service: string, event: string, fields: LogFields): string {
  const details = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value, replaceErrors)}`)
    .join(' ');
  return `\x1b[90m${time.slice(11, 23)}\x1b[0m ${COLOUR[level]}${level.toUpperCase().padEnd(5)}\x1b[0m ${service} ${event}${details ? ` ${details}` : ''}\n`;
}

/** Errors serialise to {} by default; keep what helps: name, message, code, cause. */
function replaceErrors(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const { name, message } = value;
    const code = (value as { code?: unknown }).code;
    return {
      name,
      message,
      ...(code === undefined ? {} : { code }),
      ...(value.cause === undefined ? {} : { cause: value.cause }),
    };
  }
  return value;
}
