/** The Redis server's clock, in epoch ms, when it added the entry `<ms>-<seq>`. */
export function entryTimeMs(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')));
}

/**
 * entryTimeMs read once per entry of a batch walked in order: a frame's items share their entry,
 * and a batch of a few frames holds thousands of items.
 */
export function entryTimes(): (entryId: string) => number {
  let last = '';
  let time = 0;
  return (entryId) => {
    if (entryId !== last) {
      last = entryId;
      time = entryTimeMs(entryId);
    }
    return time;
  };
}

/** Stream entry ids in stream order: negative when `a` came first. */
export function compareEntryIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}
