import { alertSettings } from '../consumer-alert/src/config.ts';
import { apiSettings } from '../api/src/config.ts';
import { mqttSettings } from '../ingest-mqtt/src/config.ts';
import { producerSettings } from '../producer/src/config.ts';
import { storeSettings } from '../consumer-store/src/config.ts';

/** Each service's setting specs, by the name it goes by. */
export const SERVICE_SETTINGS = {
  api: apiSettings,
  'consumer-store': storeSettings,
  'consumer-alert': alertSettings,
  producer: producerSettings,
  'ingest-mqtt': mqttSettings,
} as const;

/** Read outside the services' setting specs: by the commands, the logger, the container health check. */
const OTHER_SETTINGS = [
  'DATA_DIR',
  'ENV_FILE',
  'START_REDIS_PORTS',
  'CONSUMER_NAME',
  'HEARTBEAT_FILE',
  'SERVICE',
  'TOKEN_PRIVATE_KEY',
  'LOG_FORMAT',
];

/** Every environment variable the pipeline reads: each service's settings, and the commands'. */
export function knownSettings(): Set<string> {
  return new Set([
    ...Object.values(SERVICE_SETTINGS).flatMap((spec) => Object.values(spec).map((setting) => setting.key)),
    ...OTHER_SETTINGS,
  ]);
}
