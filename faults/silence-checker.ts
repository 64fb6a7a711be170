import type { Alert } from 'core';

/** What a device sent: each reading's id and when absence counts it (taken, or arrived if earlier), in order. */
export type Arrivals = ReadonlyArray<{ readingId: string; arrival: number }>;

/** How much later than the process's start the scripts may take Redis's start (whole seconds, rounded up). */
const ROUNDED_UP_BY_MS = 2_000;

export interface SilenceVerdict {
  /** `device@ts` of silences the run had and no firing alert raised. */
  missed: string[];
  /** Firing alerts for no silence, or raised twice. */
  false: string[];
  /** `device@readingId` of returns that no resolved alert (or more than one) marked. */
  unresolved: string[];
}

/**
 * The absence model the alerts are checked against: between two consecutive readings of a device
 * more than `silentForMs` apart, the device was silent — one firing alert dated `silentForMs`
 * after the first, naming it, and one resolved alert at the second — and nothing else is ever
 * called silent. A gap across a restart of Redis (`restarts`: when it started, as the absence
 * scripts take it) counts from the restart: nobody could report while it was down. Runs are made so that every gap is far from
 * `silentForMs` either way.
 */
export function checkSilences(
  byDevice: ReadonlyMap<string, Arrivals>,
  alerts: readonly Alert[],
  silentForMs: number,
  restarts: readonly number[] = [],
): SilenceVerdict {
  const expectedFiring = new Map<string, number>();
  const expectedResolved = new Map<string, number>();
  for (const [device, arrivals] of byDevice)
    for (let i = 1; i < arrivals.length; i++) {
      const before = arrivals[i - 1] as { readingId: string; arrival: number };
      const after = arrivals[i] as { readingId: string; arrival: number };
      // A restart between them (taken up to 2 s late, rounded up as the scripts round it).
      const restart = Math.max(
        before.arrival,
        ...restarts.filter((at) => at > before.arrival && at < after.arrival + ROUNDED_UP_BY_MS),
      );
      if (after.arrival - restart <= silentForMs) continue;
      expectedFiring.set(`${device}@${restart + silentForMs}/${before.readingId}`, 0);
      expectedResolved.set(`${device}@${after.readingId}`, 0);
    }
  const extra: string[] = [];
  for (const alert of alerts) {
    if (alert.state === 'firing') {
      const key = `${alert.deviceId}@${alert.ts}/${alert.readingId}`;
      const seen = expectedFiring.get(key);
      if (seen === undefined || seen > 0) extra.push(key);
      else expectedFiring.set(key, 1);
    } else {
      const key = `${alert.deviceId}@${alert.readingId}`;
      const seen = expectedResolved.get(key);
      expectedResolved.set(key, (seen ?? 0) + 1);
      if (seen === undefined) extra.push(`resolved ${key}`);
    }
  }
  return {
    missed: [...expectedFiring].filter(([, n]) => n === 0).map(([key]) => key),
    false: extra,
    unresolved: [...expectedResolved].filter(([, n]) => n !== 1).map(([key]) => key),
  };
}
