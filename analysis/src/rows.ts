import { parse } from 'csv-parse/sync';
import { parseIsoTime } from 'core';

/** What the statistics need of a row; the export's other columns are read past. */
export interface Row {
  deviceId: string;
  metric: string;
  value: number;
  ts: number;
}

export const REQUIRED_COLUMNS = ['deviceId', 'metric', 'value', 'ts'] as const;

export interface RowParser {
  /** A Row, or a string saying what is wrong with the line. */
  parse(line: string): Row | string;
}

/**
 * Builds a parser from the header line (any column order, extra columns ignored).
 * @throws Error naming the missing columns.
 */
export function rowParser(headerLine: string): RowParser {
  const header = splitCsv(headerLine) ?? [];
  const missing = REQUIRED_COLUMNS.filter((name) => !header.includes(name));
  if (missing.length > 0)
    throw new Error(
      `the CSV header must name ${REQUIRED_COLUMNS.join(', ')}; missing ${missing.join(', ')} (header: ${headerLine.slice(0, 120)})`,
    );
  const [device, metric, value, ts] = REQUIRED_COLUMNS.map((name) => header.indexOf(name)) as [
    number,
    number,
    number,
    number,
  ];
  const width = header.length;
  const wanted = [device, metric, value, ts];
  // For each column, the slot it fills in `cells`, or -1 when it is not needed.
  const slotOf = header.map((_, column) => wanted.indexOf(column));
  // Cells of the current line at the wanted indexes; reused so a row allocates only its strings.
  const cells: string[] = ['', '', '', ''];

  /** Lines without quotes (the export's rows): finds commas with indexOf, slices only the four cells needed. */
  const pickUnquoted = (line: string): number => {
    let column = 0;
    let start = 0;
    for (;;) {
      const comma = line.indexOf(',', start);
      const end = comma === -1 ? line.length : comma;
      const slot = column < width ? (slotOf[column] as number) : -1;
      if (slot !== -1) cells[slot] = line.slice(start, end);
      column += 1;
      if (comma === -1) return column;
      start = comma + 1;
    }
  };

  return {
    parse(line) {
      let columns: number;
      if (line.includes('"')) {
        const all = splitCsv(line);
        if (!all) return 'malformed CSV (unbalanced quotes?)';
        columns = all.length;
        wanted.forEach((index, slot) => {
          cells[slot] = all[index] ?? '';
        });
      } else columns = pickUnquoted(line);
      if (columns !== width) return `expected ${width} columns, found ${columns}`;
      const [deviceId, metricName, rawValue, rawTs] = cells as [string, string, string, string];
      const number = rawValue === '' ? Number.NaN : Number(rawValue);
      if (!Number.isFinite(number)) return `value is not a finite number: ${JSON.stringify(rawValue.slice(0, 40))}`;
      const time = parseTime(rawTs);
      if (!Number.isFinite(time)) return `ts is not a time: ${JSON.stringify(rawTs.slice(0, 40))}`;
      if (deviceId === '') return 'deviceId is empty';
      return { deviceId, metric: metricName, value: number, ts: time };
    },
  };
}

// The export writes `YYYY-MM-DDTHH:MM:SS.sssZ`, sorted by time: the minute prefix repeats for
// thousands of rows, so it is parsed once and only seconds and milliseconds are read per row.
let cachedPrefix = '\u0000'; // matches no time
let cachedPrefixMs = 0;

const digit = (text: string, at: number) => text.charCodeAt(at) - 48;

/** Epoch ms from digits or an ISO-8601 time; NaN when neither, or a moment that does not exist. */
export function parseTime(raw: string): number {
  if (
    raw.length === 24 &&
    raw.charCodeAt(23) === 90 /* Z */ &&
    raw.charCodeAt(16) === 58 /* : */ &&
    raw.charCodeAt(19) === 46 /* . */
  ) {
    if (!raw.startsWith(cachedPrefix)) {
      const prefix = raw.slice(0, 16);
      const ms = parseIsoTime(`${prefix}:00.000Z`);
      if (Number.isNaN(ms)) return parseIsoTime(raw);
      cachedPrefix = prefix;
      cachedPrefixMs = ms;
    }
    const s1 = digit(raw, 17);
    const s2 = digit(raw, 18);
    const m1 = digit(raw, 20);
    const m2 = digit(raw, 21);
    const m3 = digit(raw, 22);
    // Unsigned compare: a non-digit gives a negative or > 9 value, both above 9 unsigned.
    if (s1 >>> 0 <= 5 && s2 >>> 0 <= 9 && m1 >>> 0 <= 9 && m2 >>> 0 <= 9 && m3 >>> 0 <= 9) {
      return cachedPrefixMs + (s1 * 10 + s2) * 1_000 + m1 * 100 + m2 * 10 + m3;
    }
    return parseIsoTime(raw);
  }
  return /^\d+$/.test(raw) ? Number(raw) : parseIsoTime(raw);
}

/** A header or a quoted line: csv-parse (quotes, escaped quotes); a plain split when there are none. */
function splitCsv(line: string): string[] | undefined {
  if (!line.includes('"')) return line.split(',');
  try {
    return (parse(line, { relax_column_count: true }) as string[][])[0];
  } catch {
    return undefined;
  }
}
