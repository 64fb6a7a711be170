/** A cell a spreadsheet would run as a formula starts with one of these (OWASP, "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** ...unless it is a plain number, such as a negative value, which no spreadsheet runs. */
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** A CSV line in which some cell (quoted or not) may start like a formula. */
const MAYBE_FORMULA_CELL = /(?:^|,)"?[=+\-@\t\r]/;

/**
 * A text cell made safe to open in a spreadsheet: one that would start a formula (`=cmd|…`,
 * `@SUM(…)`, `+1+1`) gets a leading `'`, as OWASP recommends; plain numbers are left as they are.
 */
export function neutraliseCsvCell(cell: string): string {
  return FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell) ? `'${cell}` : cell;
}

/**
 * The same for one CSV line, given a way to split and join it. Lines with no cell that could
 * start a formula (nearly all) are returned as they are without being split.
 */
export function neutraliseCsvLine(
  line: string,
  split: (line: string) => string[] | undefined,
  join: (cells: string[]) => string,
): string {
  if (!MAYBE_FORMULA_CELL.test(line)) return line;
  // Lines without quotes (nearly all, negative values included) split on commas as they are.
  const quoted = line.includes('"');
  const cells = quoted ? split(line) : line.split(',');
  if (!cells) return line;
  const safe = cells.map(neutraliseCsvCell);
  if (safe.every((cell, index) => cell === cells[index])) return line;
  return quoted ? join(safe) : safe.join(',');
}
