/**
 * A container's health check (the Dockerfile's HEALTHCHECK), exit 0 healthy, 1 not:
 * - the API (SERVICE=api): `/health` answers, and not 503 (degraded is still serving);
 * - a worker: its heartbeat reached Redis within five intervals (HEARTBEAT_FILE holds the time of
 *   the last one). A worker cut off from Redis, or stuck, turns unhealthy; one that is merely idle
 *   does not (the heartbeat beats whether or not readings flow).
 */
import { statSync } from 'node:fs';

export function workerHealthy(
  file: string,
  intervalMs: number,
  nowMs = Date.now(),
): { healthy: boolean; reason: string } {
  let modifiedMs: number;
  try {
    modifiedMs = statSync(file).mtimeMs;
  } catch {
    return { healthy: false, reason: `no heartbeat yet (${file} is missing)` };
  }
  const ageMs = nowMs - modifiedMs;
  return ageMs <= intervalMs * 5
    ? { healthy: true, reason: `last heartbeat ${Math.round(ageMs)} ms ago` }
    : {
        healthy: false,
        reason: `last heartbeat ${Math.round(ageMs / 1_000)} s ago (Redis unreachable, or the worker stuck)`,
      };
}

export async function apiHealthy(url: string): Promise<{ healthy: boolean; reason: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(4_000) });
    return { healthy: response.status !== 503, reason: `/health answered ${response.status}` };
  } catch (error) {
    return { healthy: false, reason: `/health did not answer: ${(error as Error).message}` };
  }
}

if (import.meta.main) {
  const service = process.env.SERVICE ?? '';
  const intervalMs = Number(process.env.HEARTBEAT_INTERVAL_MS) || 2_000;
  const result =
    service === 'api'
      ? await apiHealthy(`http://127.0.0.1:${Number(process.env.PORT) || 3000}/health`)
      : workerHealthy(process.env.HEARTBEAT_FILE || '/tmp/heartbeat', intervalMs);
  console.log(`${service || 'service'}: ${result.reason}`);
  process.exit(result.healthy ? 0 : 1);
}
