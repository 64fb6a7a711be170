/**
 * The line `bun run start` prints each minute instead of every service's status JSON: what a
 * person watching the terminal wants to know — is it well, is it storing, is anything waiting or
 * refused — read from the API as `bun run status` reads it.
 */

interface HealthView {
  status: string;
  reasons: string[];
  groups: Array<{ pending: number; lag: number | null }>;
  deadLetters: Array<{ entries: number }>;
}

export interface PipelineFigures {
  status: string;
  reasons: string[];
  stored: number;
  /** Entries read and not yet acknowledged, plus those not yet read, over every group. */
  backlog: number;
  deadLetters: number;
}

/** The pipeline's figures from the API at `base`; undefined when it does not answer. */
export async function readFigures(base: string): Promise<PipelineFigures | undefined> {
  try {
    const signal = AbortSignal.timeout(5_000);
    const [health, stats] = await Promise.all([
      fetch(`${base}/health`, { signal }).then((response) => response.json() as Promise<HealthView>),
      fetch(`${base}/stats?deviceLimit=0`, { signal }).then(
        (response) => response.json() as Promise<{ count: number }>,
      ),
    ]);
    return {
      status: health.status,
      reasons: health.reasons,
      stored: stats.count,
      backlog: health.groups.reduce((sum, group) => sum + group.pending + (group.lag ?? 0), 0),
      deadLetters: health.deadLetters.reduce((sum, stream) => sum + stream.entries, 0),
    };
  } catch {
    return undefined;
  }
}

const count = (n: number) => n.toLocaleString('en-US');

/** One line: `pipeline ok · 1,234 readings stored (+300 since the last line) · backlog 0 · dead letters 0`. */
export function summaryLine(now: PipelineFigures, before: PipelineFigures | undefined): string {
  const added = before ? ` (+${count(Math.max(0, now.stored - before.stored))} since the last line)` : '';
  const reasons = now.reasons.length > 0 ? ` — ${now.reasons.join('; ')}` : '';
  return `pipeline ${now.status}${reasons} · ${count(now.stored)} readings stored${added} · backlog ${count(now.backlog)} · dead letters ${count(now.deadLetters)}`;
}
