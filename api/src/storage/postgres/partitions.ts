import type { SQL } from 'bun';

export const DAY_MS = 86_400_000;
/** Taken while partitions are created, so that instances creating the same day do not collide. */
const PARTITION_LOCK = 7_240_002;

/** `readings_d20261126`: one partition per UTC day of `ts`. */
export function partitionName(day: number): string {
  return `readings_d${new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * Daily range partitions of `readings`, created before a row needs one: ahead of time for today
 * and the next days (`ensureAhead`, on start and daily), and on demand for whatever days a batch
 * holds (a replay of last year's file). Known days are remembered, so the common batch costs no
 * query at all.
 */
export function createPartitions(sql: SQL) {
  const known = new Set<number>();
  const ensureDays = async (days: Iterable<number>) => {
    const missing = [...new Set(days)].filter((day) => !known.has(day));
    if (missing.length === 0) return;
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`;
      for (const day of missing) {
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF readings FOR VALUES FROM (${day * DAY_MS}) TO (${(day + 1) * DAY_MS})`,
        );
      }
    });
    for (const day of missing) known.add(day);
  };
  return {
    /** Forgets what it knew: another instance may have dropped a partition (retention). */
    forget() {
      known.clear();
    },
    /** The days that have a partition, oldest first. */
    async days(): Promise<number[]> {
      const rows = await sql`
        SELECT c.relname AS name FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'readings'`;
      return rows
        .map((row: { name: string }) => /^readings_d(\d{4})(\d{2})(\d{2})$/.exec(row.name))
        .filter((match: RegExpExecArray | null): match is RegExpExecArray => match !== null)
        .map((match: RegExpExecArray) =>
          Math.floor(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / DAY_MS),
        )
        .sort((a: number, b: number) => a - b);
    },
    /** Drops a day's partition (its readings go with it: retention), under the partitions' lock. */
    async drop(day: number) {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`;
        await tx.unsafe(`DROP TABLE IF EXISTS ${partitionName(day)}`);
      });
      known.delete(day);
    },
    /** Makes sure every day these times fall on has its partition. */
    ensureFor: (times: Iterable<number>) => ensureDays([...times].map((ts) => Math.floor(ts / DAY_MS))),
    /** Today's partition and the next `days` days'. */
    ensureAhead(days = 2, nowMs = Date.now()) {
      const today = Math.floor(nowMs / DAY_MS);
      return ensureDays(Array.from({ length: days + 1 }, (_, i) => today + i));
    },
  };
}
