/**
 * Keys of an env file that are no setting but one edit or two from one (a letter wrong, missing,
 * extra, or two swapped): `ALERT_TRESHOLD` for ALERT_THRESHOLD. Such a key is read by nobody, and
 * the setting it meant keeps its default without a word — so it is named, with the one it is
 * like. Keys far from every setting (a user's own) are left alone.
 */
export function misspeltSettings(
  keys: Iterable<string>,
  known: ReadonlySet<string>,
): Array<{ key: string; meant: string }> {
  const found: Array<{ key: string; meant: string }> = [];
  for (const key of keys) {
    if (known.has(key)) continue;
    let best: { meant: string; distance: number } | undefined;
    for (const name of known) {
      // Keys differ in length by more than the bound: not worth the comparison.
      const allowed = name.length <= SHORT_NAME ? 1 : MAX_EDITS;
      if (Math.abs(name.length - key.length) > allowed) continue;
      const distance = editDistance(key.toUpperCase(), name);
      if (distance <= allowed && (!best || distance < best.distance)) best = { meant: name, distance };
    }
    if (best) found.push({ key, meant: best.meant });
  }
  return found;
}

const MAX_EDITS = 2;
/** Names this short are one edit from many words (HOST, PORT, PATH): one edit only. */
const SHORT_NAME = 5;

/** Edits (insert, delete, replace, swap of neighbours) from `a` to `b`: optimal string alignment. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}
