/**
 * InfluxDB line protocol, as InfluxDB 2 documents it:
 * `measurement[,tag=value…] field=value[,field=value…] [timestamp]`, one point per line; `#`
 * starts a comment. Measurements escape `,` and space with `\`; tag keys, tag values and field keys
 * also `=`; string field values are double-quoted, escaping `"` and `\`. Field values: floats
 * (`1`, `-1.5e3`), integers (`42i`), unsigned integers (`42u`), booleans (`t`, `true`, `F`, …),
 * strings. The timestamp is an integer in the request's precision, optional.
 */

export type FieldValue = { kind: 'number'; value: number } | { kind: 'boolean'; value: boolean } | { kind: 'string' };

export interface Point {
  measurement: string;
  tags: Map<string, string>;
  fields: Map<string, FieldValue>;
  /** The timestamp as written (an integer in the request's precision), or undefined. */
  timestamp?: string;
}

export class LineProtocolError extends Error {
  override readonly name = 'LineProtocolError';
}

const BOOLEANS: Record<string, boolean> = {
  t: true,
  T: true,
  true: true,
  True: true,
  TRUE: true,
  f: false,
  F: false,
  false: false,
  False: false,
  FALSE: false,
};
const FLOAT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const INTEGER = /^[-+]?\d+[iu]$/;
const TIMESTAMP = /^-?\d{1,19}$/;

/**
 * Splits `text` at each `separator` (with `firstOnly`, at the first) that is not escaped with `\`
 * (nor, with `quotes`, inside a double-quoted string), unescaping nothing: the parts as written.
 */
function splitUnescaped(text: string, separator: string, quotes = false, firstOnly = false): string[] {
  // Most lines escape and quote nothing: the engine's own split, then, not a loop in JavaScript.
  if (!text.includes('\\') && !(quotes && text.includes('"'))) {
    if (!firstOnly) return text.split(separator);
    const at = text.indexOf(separator);
    return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 1)];
  }
  const limit = firstOnly ? 2 : Number.POSITIVE_INFINITY;
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length && parts.length < limit - 1; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (quotes && c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw new LineProtocolError('a string field value is not closed (missing ")');
  parts.push(text.slice(start));
  return parts;
}

/** Removes the `\` before the characters `escaped` lists. */
const unescape = (text: string, escaped: RegExp) => (text.includes('\\') ? text.replace(escaped, '$1') : text);
const NAME_ESCAPES = /\\([,= \\])/g;
const MEASUREMENT_ESCAPES = /\\([, \\])/g;

function parseFieldValue(raw: string, key: string): FieldValue {
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"')) throw new LineProtocolError(`field ${key}: a string value is not closed`);
    return { kind: 'string' };
  }
  if (raw in BOOLEANS) return { kind: 'boolean', value: BOOLEANS[raw] as boolean };
  const number = INTEGER.test(raw) ? Number(raw.slice(0, -1)) : FLOAT.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(number)) throw new LineProtocolError(`field ${key}: ${JSON.stringify(raw)} is not a value`);
  if (raw.endsWith('u') && number < 0) throw new LineProtocolError(`field ${key}: an unsigned integer is negative`);
  return { kind: 'number', value: number };
}

/** One line (not blank, not a comment) as a point. @throws LineProtocolError saying what is wrong. */
export function parsePoint(line: string): Point {
  const [series = '', fieldText, timestamp, extra] = splitUnescaped(line, ' ', true).filter((part) => part !== '');
  if (extra !== undefined) throw new LineProtocolError('more than measurement, fields and timestamp');
  if (fieldText === undefined) throw new LineProtocolError('no fields (measurement[,tags] field=value [timestamp])');
  const [measurementText = '', ...tagTexts] = splitUnescaped(series, ',');
  const measurement = unescape(measurementText, MEASUREMENT_ESCAPES);
  if (measurement === '') throw new LineProtocolError('no measurement');
  const tags = new Map<string, string>();
  for (const tagText of tagTexts) {
    const [key, value] = splitUnescaped(tagText, '=', false, true);
    if (!key || value === undefined || value === '')
      throw new LineProtocolError(`tag ${JSON.stringify(tagText)} is not key=value`);
    tags.set(unescape(key, NAME_ESCAPES), unescape(value, NAME_ESCAPES));
  }
  const fields = new Map<string, FieldValue>();
  for (const fieldPair of splitUnescaped(fieldText, ',', true)) {
    const [key, value] = splitUnescaped(fieldPair, '=', true, true);
    if (!key || value === undefined || value === '')
      throw new LineProtocolError(`field ${JSON.stringify(fieldPair.slice(0, 64))} is not key=value`);
    const name = unescape(key, NAME_ESCAPES);
    fields.set(name, parseFieldValue(value, name));
  }
  if (timestamp !== undefined && !TIMESTAMP.test(timestamp))
    throw new LineProtocolError(`timestamp ${JSON.stringify(timestamp.slice(0, 32))} is not an integer`);
  return { measurement, tags, fields, ...(timestamp === undefined ? {} : { timestamp }) };
}

/** A body's lines, numbered from 1, without blank lines and comments. */
export function* pointLines(body: string): Generator<{ line: number; text: string }> {
  let line = 0;
  for (const raw of body.split('\n')) {
    line += 1;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    yield { line, text: trimmed };
  }
}

/** Multipliers from each precision to milliseconds; v1's names map to v2's. */
const TO_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1_000 };
const V1_PRECISION: Record<string, string> = { n: 'ns', ns: 'ns', u: 'us', us: 'us', ms: 'ms', s: 's' };

/** The v2 name of a precision as either API spells it, or undefined when it is none. */
export const precisionOf = (raw: string | undefined): string | undefined => V1_PRECISION[raw ?? 'ns'];

/** Digits below the millisecond in each finer precision. */
const SUB_MS_DIGITS: Record<string, number> = { ns: 6, us: 3 };

/**
 * A timestamp in `precision` as epoch milliseconds (truncated toward zero, as integer division
 * does): the digits below the millisecond cut off the text, not divided in BigInt (every point
 * passes here). `+ 0` makes a negative zero plain 0.
 */
export function timestampMs(timestamp: string, precision: string): number {
  const cut = SUB_MS_DIGITS[precision];
  if (cut === undefined) return Number(timestamp) * (TO_MS[precision] as number) + 0;
  const whole = timestamp.slice(0, -cut);
  return whole === '' || whole === '-' ? 0 : Number(whole) + 0;
}
