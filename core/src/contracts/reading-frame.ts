import { InvalidEventError } from './errors.ts';
import { type FieldList, quote } from './fields.ts';
import { type Reading, decodeReading, encodeReadingPayload, fromReadingArray, validateReading } from './reading.ts';

/**
 * v3, a frame: one stream entry carrying a batch of readings, `v 3 f [[id, deviceId, metric,
 * value, unit, ts], ...]` — each element a v2 `r` array. Redis, the consumers and the acks then
 * work per frame instead of per reading (Redis alone spent ~11 µs per single-reading entry),
 * while every reading keeps its own id, idempotency, alert evaluation and dead letter: an element
 * that does not decode is dead-lettered alone (as a v2 entry of its own), the others go on.
 * Single-reading entries (v1, v2) stay valid; consumers read all three.
 */
export const FRAME_VERSION = '3';
/** Readings per frame at most: a few hundred KB of JSON, a few ms of work per entry. */
export const MAX_FRAME_READINGS = 1_000;

/**
 * What alerting does with a frame's readings, when its publisher says (an import's `?alerts=`):
 * `notify` — evaluated and sent however old; `record` — evaluated, transitions recorded in the
 * history but not sent; `skip` — not evaluated at all. Without it, readings that arrived long after
 * they were taken are recorded, not sent (ALERT_NOTIFY_MAX_AGE_MS). Carried as `a <mode>` after
 * the frame: `v 3 f [...] a record`.
 */
export const ALERT_MODES = ['notify', 'record', 'skip'] as const;
export type AlertMode = (typeof ALERT_MODES)[number];

/** The frame's alert mode, if it has one (see ALERT_MODES). */
export function frameAlertMode(fields: FieldList): AlertMode | undefined {
  if (fields.length !== 6 || fields[4] !== 'a') return undefined;
  return ALERT_MODES.find((mode) => mode === fields[5]);
}

/** One item of an entry: a reading, or why its element does not decode; with its own fields. */
export type DecodedReadingItem =
  | { value: Reading; fields: readonly string[] }
  | { error: string; fields: readonly string[] };

export function encodeReadingFrame(readings: readonly Reading[]): string[] {
  return ['v', FRAME_VERSION, 'f', `[${readings.map(encodeReadingPayload).join(',')}]`];
}

/**
 * The readings of any entry: a frame's, each alone, or a single-reading entry's one.
 * @throws InvalidEventError when the entry as a whole cannot be read (then it is dead-lettered whole).
 */
export function decodeReadingItems(fields: FieldList): DecodedReadingItem[] {
  if (!((fields.length === 4 || fields.length === 6) && fields[0] === 'v' && fields[1] === FRAME_VERSION))
    return [{ value: decodeReading(fields), fields }];
  if (fields[2] !== 'f') throw new InvalidEventError('f', 'is missing (a v3 entry is `v 3 f <frame>`)');
  if (fields.length === 6 && !frameAlertMode(fields))
    throw new InvalidEventError(
      'a',
      `must be one of ${ALERT_MODES.join(', ')} (a v3 entry is \`v 3 f <frame> [a <mode>]\`), got ${quote(String(fields[4]))} ${quote(String(fields[5]))}`,
    );
  const raw = fields[3] as string;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new InvalidEventError('f', `must be a non-empty JSON array of readings, got ${quote(raw)}`);
  const now = Date.now();
  return parsed.map((element, index) => {
    try {
      return new FrameItem(
        validateReading(
          fromReadingArray(element, () => elementText(element), `f[${index}]`),
          now,
        ),
        element,
      );
    } catch (error) {
      return { error: `frame element ${index}: ${(error as Error).message}`, fields: elementFields(element) };
    }
  });
}

const elementText = (element: unknown) => JSON.stringify(element) ?? 'null';
/** A frame element as the v2 entry it would have been: its dead letter's fields. */
const elementFields = (element: unknown): string[] => ['v', '2', 'r', elementText(element)];

/**
 * A frame's reading, and its fields made only when asked for (a dead letter): every reading of
 * every frame passes here, and almost none is dead-lettered.
 */
class FrameItem {
  constructor(
    readonly value: Reading,
    private readonly element: unknown,
  ) {}
  get fields(): string[] {
    return elementFields(this.element);
  }
}

/**
 * The readings of any entry, every version (v1, v2, a v3 frame): the one decoder for a reader of
 * the stream that wants readings, not items.
 * @throws InvalidEventError when the entry, or any reading of a frame, does not decode (naming it).
 */
export function decodeReadings(fields: FieldList): Reading[] {
  return decodeReadingItems(fields).map((item) => {
    if ('error' in item) throw new InvalidEventError('f', item.error);
    return item.value;
  });
}
