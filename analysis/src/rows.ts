import { parse } from 'csv-parse/sync';

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
  if (missing.length > 0) throw new Error(`the CSV header must name ${REQUIRED_COLUMNS.join(', ')}; missing ${missing.join(', ')} (header: ${headerLine.slice(0, 120)})`);
  const [device, metric, value, ts] = REQUIRED_COLUMNS.map((name) => header.indexOf(name)) as [number, number, number, number];
  const width = header.length;
  return {
    parse(line) {
      const cells = splitCsv(line);
      if (!cells) return 'malformed CSV (unbalanced quotes?)';
      if (cells.length !== width) return `expected ${width} columns, found ${cells.length}`;
      const rawValue = cells[value] as string;
      const number = rawValue === '' ? Number.NaN : Number(rawValue);
      if (!Number.isFinite(number)) return `value is not a finite number: ${JSON.stringify(rawValue.slice(0, 40))}`;
      const rawTs = cells[ts] as string;
      const time = parseTime(rawTs);
      if (!Number.isFinite(time)) return `ts is not a time: ${JSON.stringify(rawTs.slice(0, 40))}`;
      const deviceId = cells[device] as string;
      if (deviceId === '') return 'deviceId is empty';
      return { deviceId, metric: cells[metric] as string, value: number, ts: time };
    },
  };
}

// The export writes `YYYY-MM-DDTHH:MM:SS.sssZ`, sorted by time: the minute prefix repeats for
// thousands of rows, so it is parsed once and only seconds and milliseconds are read per row.
let cachedPrefix = '';
let cachedPrefixMs = 0;

/** Epoch ms from digits or an ISO-8601 time; NaN when neither. */
export function parseTime(raw: string): number {
  if (raw.length === 24 && raw.charCodeAt(23) === 90 /* Z */ && raw.charCodeAt(16) === 58 /* : */ && raw.charCodeAt(19) === 46 /* . */) {
    const prefix = raw.slice(0, 16);
    if (prefix !== cachedPrefix) {
      const ms = Date.parse(`${prefix}:00.000Z`);
      if (Number.isNaN(ms)) return Date.parse(raw);
      cachedPrefix = prefix;
      cachedPrefixMs = ms;
    }
    const seconds = Number(raw.slice(17, 19));
    const millis = Number(raw.slice(20, 23));
    if (seconds < 60 && Number.isInteger(seconds) && Number.isInteger(millis)) return cachedPrefixMs + seconds * 1_000 + millis;
    return Date.parse(raw);
  }
  return /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
}

/** Fast path for lines without quotes (the export's rows); csv-parse for the rest. */
function splitCsv(line: string): string[] | undefined {
  if (!line.includes('"')) return line.split(',');
  try {
    return (parse(line, { relax_column_count: true }) as string[][])[0];
  } catch {
    return undefined;
  }
}
