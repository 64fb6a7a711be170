/**
 * Globs of names: `*` matches any run of characters (none included), every other character only
 * itself. Matched without regular expressions, in time linear in the name for a given glob: a
 * glob is cut at its stars into literal pieces, the first must start the name, the last end it,
 * and each piece between is found at its leftmost place after the one before. Leftmost is always
 * right for `*`-only globs (a later place leaves less room for the rest, never more), so there is
 * no backtracking — a RegExp of `.*` per star backtracks exponentially on `*a*a*a…b`.
 */
export interface CompiledGlob {
  readonly glob: string;
  matches(name: string): boolean;
}

/** Cuts a glob into its literal pieces once, for the loops that match many names against it. */
export function compileGlob(glob: string): CompiledGlob {
  if (glob === '*') return { glob, matches: () => true };
  if (!glob.includes('*')) return { glob, matches: (name) => name === glob };
  const pieces = glob.split('*');
  const head = pieces[0] ?? '';
  const tail = pieces[pieces.length - 1] ?? '';
  const middle = pieces.slice(1, -1).filter((piece) => piece !== '');
  return {
    glob,
    matches(name: string): boolean {
      if (name.length < head.length + tail.length || !name.startsWith(head) || !name.endsWith(tail)) return false;
      let from = head.length;
      const end = name.length - tail.length;
      for (const piece of middle) {
        const at = name.indexOf(piece, from);
        if (at < 0 || at + piece.length > end) return false;
        from = at + piece.length;
      }
      return true;
    },
  };
}

/** Compiled globs, kept for the loops that match many names against a few globs (bounded). */
const compiled = new Map<string, CompiledGlob>();
const MAX_COMPILED = 10_000;

/** Whether a name matches a glob: `*` matches everything, a glob without `*` only itself. */
export function globMatches(glob: string, name: string): boolean {
  if (glob === '*') return true;
  if (!glob.includes('*')) return glob === name;
  let pattern = compiled.get(glob);
  if (!pattern) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    pattern = compileGlob(glob);
    compiled.set(glob, pattern);
  }
  return pattern.matches(name);
}
