import { parseArgs } from 'node:util';
import { ConfigError, type Env, commonSettings, env, loadConfig } from 'core';
import { PATTERNS } from './simulator.ts';

/** Environment settings of the producer; every one also has a command-line flag (see FLAG_TO_ENV). */
export const producerSettings = {
  ...commonSettings,
  devices: env.int('DEVICES', 5, { min: 1, max: 1_000_000 }),
  intervalMs: env.number('INTERVAL_MS', 1_000, { min: 0.001, max: 86_400_000 }),
  valueMin: env.number('VALUE_MIN', 10),
  valueMax: env.number('VALUE_MAX', 100),
  decimals: env.int('DECIMALS', 0, { min: 0, max: 6 }),
  metric: env.string('METRIC', 'kwh', { maxLength: 64 }),
  unit: env.string('UNIT', 'kWh', { maxLength: 32 }),
  pattern: env.oneOf('PATTERN', 'wave', PATTERNS),
  count: env.int('COUNT', undefined, { min: 1 }),
  rate: env.number('RATE', undefined, { min: 0.001, max: 10_000_000 }),
  replay: env.string('REPLAY', undefined),
  csv: env.string('CSV_FILE', undefined),
  maxBuffered: env.int('MAX_BUFFERED', 100_000, { min: 1, max: 10_000_000 }),
  statusIntervalMs: env.int('STATUS_INTERVAL_MS', 5_000, { min: 100 }),
  shutdownTimeoutMs: env.int('SHUTDOWN_TIMEOUT_MS', 5_000, { min: 0 }),
};

export type ProducerConfig = ReturnType<typeof loadConfig<typeof producerSettings>>;

/** Command-line flags and the environment variable each one overrides. */
const FLAG_TO_ENV = {
  devices: 'DEVICES',
  'interval-ms': 'INTERVAL_MS',
  min: 'VALUE_MIN',
  max: 'VALUE_MAX',
  decimals: 'DECIMALS',
  metric: 'METRIC',
  unit: 'UNIT',
  pattern: 'PATTERN',
  count: 'COUNT',
  rate: 'RATE',
  replay: 'REPLAY',
  csv: 'CSV_FILE',
  'redis-url': 'REDIS_URL',
  stream: 'READINGS_STREAM',
  'max-buffered': 'MAX_BUFFERED',
} as const;

export const USAGE = `Usage: producer [flags]   (every flag also reads from its environment variable)
  --devices N        DEVICES        devices to simulate (device-001 ...), default 5
  --interval-ms MS   INTERVAL_MS    each device reports every MS (with jitter), default 1000
  --min X, --max Y   VALUE_MIN/MAX  value range, inclusive, default 10..100
  --decimals D       DECIMALS       decimals per value, default 0 (integers)
  --metric M         METRIC         default kwh
  --unit U           UNIT           default kWh
  --pattern P        PATTERN        wave (default): each device a slow wave with a rare excursion
                                    high in the range (a few alerts an hour at the default
                                    threshold); uniform: any value of the range each time
                                    (an alert a second: for load and alerting tests)
  --count N          COUNT          stop after N readings in total
  --rate R           RATE           R readings per second in total (overrides --interval-ms)
  --replay FILE|-    REPLAY         publish readings from a CSV or NDJSON file (or stdin)
  --csv FILE         CSV_FILE       also append every produced reading to FILE
  --redis-url URL    REDIS_URL      default redis://127.0.0.1:6379
  --stream NAME      READINGS_STREAM default readings
  --max-buffered N   MAX_BUFFERED   readings kept while Redis is away, default 100000`;

/**
 * Loads the producer's configuration from flags (which win) and the environment.
 * @throws ConfigError naming every bad flag or variable.
 */
export function loadProducerConfig(argv: readonly string[], environment: Env): ProducerConfig {
  const overrides = parseFlags(argv);
  const config = loadConfig(producerSettings, { ...environment, ...overrides });
  const problems = [];
  if (config.valueMin > config.valueMax) {
    problems.push({
      key: 'VALUE_MAX',
      message: `must not be below VALUE_MIN (${config.valueMin}), got ${config.valueMax}`,
    });
  } else if (Math.ceil(config.valueMin * 10 ** config.decimals) > Math.floor(config.valueMax * 10 ** config.decimals)) {
    problems.push({
      key: 'VALUE_MIN',
      message: `no value with ${config.decimals} decimals lies in [${config.valueMin}, ${config.valueMax}]`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseFlags(argv: readonly string[]): Record<string, string> {
  const options = Object.fromEntries(Object.keys(FLAG_TO_ENV).map((flag) => [flag, { type: 'string' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError([{ key: 'arguments', message: `${(error as Error).message.split('. ')[0]} (see --help)` }]);
  }
  const overrides: Record<string, string> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (typeof value === 'string') overrides[FLAG_TO_ENV[flag as keyof typeof FLAG_TO_ENV]] = value;
  }
  return overrides;
}
