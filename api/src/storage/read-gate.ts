import { type ReadingsStore, StorageBusyError } from './port.ts';

export interface ReadLimits {
  /** Long reads running at once (SQLite: reader threads; PostgreSQL: the read pool's size). */
  running: number;
  /** Long reads waiting for a turn; past it a read is refused (429). */
  waiting: number;
  /**
   * How long a refusal takes to be told, in ms (default REFUSAL_DELAY_MS). A client that asks
   * again at once, ignoring Retry-After, then asks a few times a second instead of thousands:
   * each refusal costs the event loop that serves writes, and 10,000 a second took it whole
   * (writes' p99 ~100 ms in the history bench). A waiting refusal holds a timer, no reader.
   */
  refusalDelayMs?: number;
}

export const REFUSAL_DELAY_MS = 250;

/**
 * Bounds the long reads of a store — listings, exports, statistics, counts — whatever its
 * backend: `running` at once, `waiting` more in line, and past that StorageBusyError (429 with
 * Retry-After, told after a short pause) rather than a queue that grows with every impatient
 * client. Writes, the change feed, `latest` and lookups by id are short and not gated: they never
 * wait behind long reads.
 */
export function gateReads(store: ReadingsStore, limits: ReadLimits): ReadingsStore {
  let running = 0;
  const queue: Array<() => void> = [];

  const gated = async <T>(read: () => Promise<T>): Promise<T> => {
    if (running >= limits.running) {
      if (queue.length >= limits.waiting) {
        const refusal = new StorageBusyError(
          `${running} long reads are running and ${queue.length} waiting (listings, exports, statistics): try again shortly`,
        );
        await Bun.sleep(limits.refusalDelayMs ?? REFUSAL_DELAY_MS);
        throw refusal;
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    } else {
      running += 1;
    }
    try {
      return await read();
    } finally {
      // The turn passes straight to the next in line, so `running` never overshoots.
      const next = queue.shift();
      if (next) next();
      else running -= 1;
    }
  };

  // Every capability named: a method added to the port fails to compile here until it is decided
  // whether it is a long read (gated) or not (passed on as it is).
  return {
    backend: store.backend,
    location: store.location,
    identity: () => store.identity(),
    check: () => store.check(),
    diskBytes: () => store.diskBytes(),
    ...(store.wal ? { wal: store.wal.bind(store) } : {}),
    close: () => store.close(),
    insert: (rows) => store.insert(rows),
    patch: (id, fields) => store.patch(id, fields),
    remove: (id) => store.remove(id),
    get: (id) => store.get(id),
    page: (filter, limit, after) => gated(() => store.page(filter, limit, after)),
    latest: (limit) => store.latest(limit),
    chunk: (filter, limit, after) => gated(() => store.chunk(filter, limit, after)),
    exportChunk: (filter, limit, after, format) => gated(() => store.exportChunk(filter, limit, after, format)),
    count: (filter) => gated(() => store.count(filter)),
    stats: (filter, threshold, devices, bucket) => gated(() => store.stats(filter, threshold, devices, bucket)),
    statsJson: (filter, threshold, devices, bucket) => gated(() => store.statsJson(filter, threshold, devices, bucket)),
    compactRollups: (beforeMs, limit, thresholds) => store.compactRollups(beforeMs, limit, thresholds),
    rebuildRollups: (thresholds) => store.rebuildRollups(thresholds),
    removeRollupsBefore: (beforeMs, limit) => store.removeRollupsBefore(beforeMs, limit),
    changesAfter: (seq, limit) => store.changesAfter(seq, limit),
    recentChanges: (limit) => store.recentChanges(limit),
    lastSeq: () => store.lastSeq(),
    onChange: (listener) => store.onChange(listener),
    insertAlerts: (rows) => store.insertAlerts(rows),
    acknowledgeAlert: (id, ack) => store.acknowledgeAlert(id, ack),
    alerts: (filter, limit, after) => store.alerts(filter, limit, after),
    removeAlertsBefore: (beforeMs, limit) => store.removeAlertsBefore(beforeMs, limit),
    removeReadingsBefore: (beforeMs, limit) => store.removeReadingsBefore(beforeMs, limit),
    oldestReadingTs: () => store.oldestReadingTs(),
    reclaimSpace: () => store.reclaimSpace(),
    ...(store.compressReadingsBefore ? { compressReadingsBefore: store.compressReadingsBefore.bind(store) } : {}),
    ...(store.compressionTiers ? { compressionTiers: store.compressionTiers.bind(store) } : {}),
  };
}
