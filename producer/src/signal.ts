/**
 * A device's values as a plausible sensor gives them (the simulator's default pattern): a slow
 * wave around a level of its own in the lower third of [min, max], with a little noise, and now
 * and then an excursion — a minute or two high in the range — that a threshold rule at mid-range
 * catches as one firing and one resolved. About EXCURSIONS_PER_HOUR per device: the default fleet
 * (5 devices, threshold 50 of 10..100) raises a few alerts an hour, each one worth a look, instead
 * of the uniform pattern's alert a second.
 */
export const EXCURSIONS_PER_HOUR = 0.6;

export interface SignalOptions {
  valueMin: number;
  valueMax: number;
  /** Average time between two readings of the device: excursions come per hour, whatever the rate. */
  intervalMs: number;
  random: () => number;
}

/** A signal for one device: each call gives its value at `nowMs` (calls in time order). */
export function createSignal({ valueMin, valueMax, intervalMs, random }: SignalOptions): (nowMs: number) => number {
  const span = valueMax - valueMin;
  const level = valueMin + span * (0.2 + 0.1 * random());
  const amplitude = span * 0.08;
  const periodMs = (10 + 20 * random()) * 60_000;
  const phase = random() * 2 * Math.PI;
  const startChance = Math.min(1, (EXCURSIONS_PER_HOUR * intervalMs) / 3_600_000);
  let excursion: { untilMs: number; level: number } | undefined;
  return (nowMs) => {
    if (excursion && nowMs >= excursion.untilMs) excursion = undefined;
    if (!excursion && random() < startChance)
      excursion = { untilMs: nowMs + (30 + 90 * random()) * 1_000, level: valueMin + span * (0.62 + 0.08 * random()) };
    const base = excursion ? excursion.level : level + amplitude * Math.sin((2 * Math.PI * nowMs) / periodMs + phase);
    const noise = span * 0.015 * (2 * random() - 1);
    return Math.min(valueMax, Math.max(valueMin, base + noise));
  };
}
