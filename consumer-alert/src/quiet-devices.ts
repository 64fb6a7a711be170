/**
 * The devices whose threshold state the evaluator knows to be quiet, per rule: ok, with no streak,
 * not flapping (or no state at all), ordered before some time. A reading of such a device that
 * does not breach, ordered at or after that time, is one evaluate-alerts.lua would answer on its
 * quiet path — no transition, nothing written — so it is not sent at all. Most readings are such
 * readings: in a fleet where 2% of readings breach, this spares Redis and the evaluator ~95% of
 * the pairs.
 *
 * What is known comes only from the script's own answers (`.`, its quiet path), and is forgotten:
 * - for a device, the moment one of its readings is sent the full way (it may change the state);
 * - whole, when anything else may have written the states since: another lead (an instance that
 *   held the partition meanwhile), a connection made again (a failover may have lost writes), new
 *   rules, a failed call.
 * Bounded: past `max` (device, rule) pairs — ~20 MB, an evaluator per partition — new ones are not
 * kept (their readings are sent, as before).
 */
export class QuietDevices {
  private readonly byRule: Array<Map<string, number>>;
  private size = 0;

  constructor(
    rules: number,
    private readonly max = 200_000,
  ) {
    this.byRule = Array.from({ length: rules }, () => new Map());
  }

  /** Whether a reading of `device` that does not breach `rule`, ordered `order`, needs no evaluation. */
  skips(rule: number, device: string, order: number): boolean {
    const below = this.byRule[rule]?.get(device);
    return below !== undefined && order >= below;
  }

  /** A reading of `device` goes to the script the full way: what was known of its state may change. */
  sent(rule: number, device: string): void {
    if (this.byRule[rule]?.delete(device)) this.size -= 1;
  }

  /** The script answered `.` for a reading ordered `order`: the state is quiet and ordered before it. */
  quiet(rule: number, device: string, order: number): void {
    const known = this.byRule[rule];
    if (!known) return;
    const below = known.get(device);
    if (below === undefined) {
      if (this.size >= this.max) return;
      this.size += 1;
      known.set(device, order);
    } else if (order < below) known.set(device, order);
  }

  clear(): void {
    for (const known of this.byRule) known.clear();
    this.size = 0;
  }

  get devices(): number {
    return this.size;
  }
}
