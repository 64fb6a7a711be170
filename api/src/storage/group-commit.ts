import { type BatchOutcome, StorageUnavailableError, type StoredRow } from './port.ts';

export interface GroupCommitOptions {
  /** Rows one transaction takes at most (requests are never split: a larger one goes alone). */
  maxRows: number;
  /** Requests waiting at most; past it an insert is refused at once (503), never queued unbounded. */
  maxWaiting: number;
}

interface Waiting {
  rows: readonly StoredRow[];
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/**
 * Group commit: inserts that arrive while the store commits are merged into its next
 * transaction, each answered with its own outcome (`commit` gives one per group, as if each had
 * been alone). A commit never waits for company — an insert into an idle store goes at once — so
 * under load transactions grow by themselves (fewer commits, each page of the indexes written
 * once for many requests' rows) and at low rates nothing is delayed.
 */
export function groupCommit(
  commit: (groups: ReadonlyArray<readonly StoredRow[]>) => Promise<BatchOutcome[]>,
  { maxRows, maxWaiting }: GroupCommitOptions,
): (rows: readonly StoredRow[]) => Promise<BatchOutcome> {
  const queue: Waiting[] = [];
  let committing = false;

  /** The next group: the oldest request, and those after it that fit within maxRows. */
  const takeGroup = (): Waiting[] => {
    let rows = (queue[0] as Waiting).rows.length;
    let count = 1;
    while (count < queue.length && rows + (queue[count] as Waiting).rows.length <= maxRows)
      rows += (queue[count++] as Waiting).rows.length;
    return queue.splice(0, count);
  };

  const next = (): void => {
    if (committing || queue.length === 0) return;
    committing = true;
    const group = takeGroup();
    commit(group.map((request) => request.rows)).then(
      (outcomes) => {
        group.forEach((request, index) => request.resolve(outcomes[index] as BatchOutcome));
        committing = false;
        next();
      },
      (error: unknown) => {
        for (const request of group) request.reject(error);
        committing = false;
        next();
      },
    );
  };

  return (rows) => {
    if (queue.length >= maxWaiting)
      return Promise.reject(
        new StorageUnavailableError(`${maxWaiting} write batches are waiting for the database already`),
      );
    return new Promise<BatchOutcome>((resolve, reject) => {
      queue.push({ rows, resolve, reject });
      next();
    });
  };
}
