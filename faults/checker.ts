/**
 * A Jepsen-style checker: after a run with faults, compares what the pipeline holds with what
 * was offered and acknowledged. Pure, so its verdicts are tested on their own (checker.test.ts).
 */
import type { Alert, Reading } from 'core';

export interface History {
  /** Every reading the producer could have sent (the replayed file). */
  offered: readonly Reading[];
  /** Ids Redis acknowledged to the producer, over all its runs (its `--csv` files). */
  acked: readonly string[];
  /** Reading ids of the rows in SQLite (one per row, so a doubled row shows twice). */
  stored: readonly string[];
  /** The alerts stream, in order. */
  alerts: readonly Alert[];
  /** Alert ids in the API's alert history (GET /alerts, every page), one per row. */
  recorded?: readonly string[];
  /** Alert ids in the webhook messages the receiver accepted; undefined when no webhook ran. */
  delivered?: readonly string[];
  /** Entries pending (read, not acknowledged) over all consumer groups, and dead letters. */
  pending: number;
  deadLetters: number;
}

export interface Verdict {
  /** Acknowledged to the producer but not stored. */
  lost: string[];
  /** Stored but never offered. */
  unexpected: string[];
  /** Stored more than once. */
  duplicates: string[];
  /** Transitions the rule implies that no alert announced (`readingId/state`). */
  missingAlerts: string[];
  /** Alerts announced twice, or that the rule does not imply. */
  extraAlerts: string[];
  /** Alert ids missing from the alert history, or in it more than once (or never raised). */
  unrecorded: string[];
  rerecorded: string[];
  /** Alert ids not delivered to the webhook, or delivered more than once. */
  undelivered: string[];
  redelivered: string[];
  pending: number;
  deadLetters: number;
}

/** True when nothing was lost, doubled, invented or left pending. */
export const clean = (v: Verdict) =>
  v.lost.length +
    v.unexpected.length +
    v.duplicates.length +
    v.missingAlerts.length +
    v.extraAlerts.length +
    v.unrecorded.length +
    v.rerecorded.length +
    v.undelivered.length +
    v.redelivered.length +
    v.pending +
    v.deadLetters ===
  0;

/** Counts per key, as a map. */
function tally(keys: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/**
 * The transitions the default rule (fire above `threshold`, resolve at or below it) implies for
 * readings taken in order per device: the model the alerts are checked against.
 */
export function expectedTransitions(offered: readonly Reading[], threshold: number): string[] {
  const firing = new Set<string>();
  const transitions: string[] = [];
  for (const reading of offered) {
    if (reading.value > threshold && !firing.has(reading.deviceId)) {
      firing.add(reading.deviceId);
      transitions.push(`${reading.id}/firing`);
    } else if (reading.value <= threshold && firing.has(reading.deviceId)) {
      firing.delete(reading.deviceId);
      transitions.push(`${reading.id}/resolved`);
    }
  }
  return transitions;
}

export function check(history: History, threshold: number): Verdict {
  const offeredIds = new Set(history.offered.map((r) => r.id));
  const storedCounts = tally(history.stored);
  const expected = new Set(expectedTransitions(history.offered, threshold));
  const announced = tally(history.alerts.map((a) => `${a.readingId}/${a.state}`));
  const verdict: Verdict = {
    lost: [...new Set(history.acked)].filter((id) => !storedCounts.has(id)),
    unexpected: [...storedCounts.keys()].filter((id) => !offeredIds.has(id)),
    duplicates: [...storedCounts].filter(([, n]) => n > 1).map(([id]) => id),
    missingAlerts: [...expected].filter((t) => !announced.has(t)),
    extraAlerts: [...announced].filter(([t, n]) => n > 1 || !expected.has(t)).map(([t]) => t),
    unrecorded: [],
    rerecorded: [],
    undelivered: [],
    redelivered: [],
    pending: history.pending,
    deadLetters: history.deadLetters,
  };
  if (history.recorded) {
    const records = tally(history.recorded);
    const raised = new Set(history.alerts.map((a) => a.id));
    verdict.unrecorded = history.alerts.map((a) => a.id).filter((id) => !records.has(id));
    verdict.rerecorded = [...records].filter(([id, n]) => n > 1 || !raised.has(id)).map(([id]) => id);
  }
  if (history.delivered) {
    const deliveries = tally(history.delivered);
    verdict.undelivered = history.alerts.map((a) => a.id).filter((id) => !deliveries.has(id));
    verdict.redelivered = [...deliveries].filter(([, n]) => n > 1).map(([id]) => id);
  }
  return verdict;
}

/** A short account of a verdict for a failing assertion: counts and a few examples of each. */
export function describe(v: Verdict): string {
  const lines = Object.entries(v).map(([name, value]) =>
    Array.isArray(value)
      ? `${name}: ${value.length}${value.length ? ` (e.g. ${value.slice(0, 3).join(', ')})` : ''}`
      : `${name}: ${value}`,
  );
  return lines.join('\n');
}
