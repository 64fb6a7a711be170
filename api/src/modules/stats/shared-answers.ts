import type { ChangeFeed, ReadingStatistics } from '../../storage/port.ts';

type StatsJson = ReadingStatistics['statsJson'];

/** Asks that may share one read besides the one that began it. */
const SHARERS = 3;

/**
 * Identical `/stats` asked while one is being worked out, with no change committed since it began,
 * share its answer: dashboards polling the same window cost one long read, not one each. The shared
 * answer is as new as a read begun on arrival would be (nothing was committed in between), so a
 * client that wrote and then asks sees its write. At most SHARERS share a read; others read for
 * themselves (and wait, or are refused, as any long read): answered at once, clients that loop ask
 * again at once, and sending answers would take the event loop from the writes.
 *
 * Only where every commit passes through this process's change feed before its writer hears back
 * (SQLite: one writer, this API). With several API instances on PostgreSQL, another instance's
 * commit could fall between the two asks unseen, so there each ask reads for itself.
 */
export function sharedStatsAnswers(
  store: Pick<ReadingStatistics, 'statsJson'> & Pick<ChangeFeed, 'onChange'>,
): StatsJson {
  let version = 0;
  store.onChange(() => {
    version += 1;
  });
  const running = new Map<string, { version: number; sharers: number; answer: Promise<Uint8Array> }>();
  return (filter, threshold, devices, bucket) => {
    const key = JSON.stringify([filter, threshold, devices, bucket ?? null]);
    const shared = running.get(key);
    if (shared && shared.version === version && shared.sharers < SHARERS) {
      shared.sharers += 1;
      return shared.answer;
    }
    const started = { version, sharers: 0, answer: store.statsJson(filter, threshold, devices, bucket) };
    running.set(key, started);
    const forget = () => {
      if (running.get(key) === started) running.delete(key);
    };
    started.answer.then(forget, forget);
    return started.answer;
  };
}
