import { hostname } from 'node:os';

/**
 * The default name of a worker instance: `<hostname>-<pid>`. Unique on a machine; in a container
 * the hostname is the container's and the pid is stable, so a restarted replica keeps its name
 * (and re-reads its own pending entries).
 */
export function defaultInstanceName(): string {
  return `${hostname()}-${process.pid}`;
}
