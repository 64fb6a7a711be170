/** Our payloads nest 3 levels; this leaves room, and stops `[` × 100,000 before it is parsed. */
export const MAX_JSON_DEPTH = 32;

/**
 * True when a JSON text nests deeper than `limit`: one scan, stopping early, no parse. Deeper
 * texts are refused before JSON.parse: parsing and re-serializing them costs seconds and then
 * overflows the stack.
 */
export function jsonDepthExceeds(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i += 1; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth += 1;
      if (depth > limit) return true;
    } else if (c === 93 || c === 125) depth -= 1;
  }
  return false;
}
