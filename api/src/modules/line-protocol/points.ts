import {
  InvalidEventError,
  LineProtocolError,
  type Point,
  type Reading,
  eventIdFor,
  parsePoint,
  pointLines,
  timestampMs,
  validateReading,
} from 'core';

/** Nanoseconds per unit of each precision: a point's key is its time in nanoseconds, whatever the precision it came in. */
const NS_PER: Record<string, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n };
const NS_ZEROS: Record<string, string> = { ns: '', us: '000', ms: '000000', s: '000000000' };

/**
 * A timestamp in nanoseconds, as text: the digits as written with the precision's zeros after
 * them when they are already the integer's own (a first digit 1–9, after a minus); else (leading
 * zeros, zero) through BigInt. The same text either way: the point's id depends on it.
 */
function nanosecondsText(timestamp: string, precision: string): string {
  const first = timestamp.charCodeAt(timestamp.startsWith('-') ? 1 : 0);
  if (first >= 49 && first <= 57) return timestamp + (NS_ZEROS[precision] as string);
  return (BigInt(timestamp) * (NS_PER[precision] as bigint)).toString();
}

export interface BadLine {
  line: number;
  message: string;
}

export interface Mapping {
  /** v2's name: ns, us, ms or s. */
  precision: string;
  /** The tag naming the device (LINE_PROTOCOL_DEVICE_TAG); `device` falls back to `host`. */
  deviceTag: string;
  nowMs: number;
  /** When the door first received this body (points without a timestamp take it). */
  receiptMs: number;
}

/**
 * A point as readings, one per number or boolean field: the device from its device tag, the
 * metric `measurement.field` (just the measurement for a field named `value`), the unit from a
 * `unit` tag, booleans as 1 and 0; other tags are not kept. Its id is made from device, metric and
 * time (in nanoseconds), so a client's retry is stored once and the same point with another value
 * is a conflict, not an overwrite. @throws LineProtocolError or InvalidEventError naming what is wrong.
 */
export function readingsOfPoint(point: Point, mapping: Mapping): Reading[] {
  const deviceId =
    point.tags.get(mapping.deviceTag) ?? (mapping.deviceTag === 'device' ? point.tags.get('host') : undefined);
  if (deviceId === undefined)
    throw new LineProtocolError(
      `no ${mapping.deviceTag} tag${mapping.deviceTag === 'device' ? ' (nor host)' : ''} naming the device`,
    );
  for (const [key, field] of point.fields)
    if (field.kind === 'string')
      throw new LineProtocolError(`field ${key}: string values are not readings (send numbers or booleans)`);
  const tsMs = point.timestamp === undefined ? mapping.receiptMs : timestampMs(point.timestamp, mapping.precision);
  const timeKey =
    point.timestamp === undefined
      ? `receipt:${mapping.receiptMs}`
      : nanosecondsText(point.timestamp, mapping.precision);
  const unit = point.tags.get('unit') ?? '';
  const readings: Reading[] = [];
  for (const [field, value] of point.fields) {
    const metric = field === 'value' ? point.measurement : `${point.measurement}.${field}`;
    const number = value.kind === 'number' ? value.value : value.kind === 'boolean' && value.value ? 1 : 0;
    readings.push(
      validateReading(
        {
          id: eventIdFor(tsMs, `lp|${deviceId}|${metric}|${timeKey}`),
          deviceId,
          metric,
          value: number,
          unit,
          ts: tsMs,
        },
        mapping.nowMs,
      ),
    );
  }
  return readings;
}

/** A body's readings, and its bad lines (each refused whole, the others kept). */
export function readingsOfBody(body: string, mapping: Mapping): { readings: Reading[]; bad: BadLine[]; lines: number } {
  const readings: Reading[] = [];
  const bad: BadLine[] = [];
  let lines = 0;
  for (const { line, text } of pointLines(body)) {
    lines += 1;
    try {
      readings.push(...readingsOfPoint(parsePoint(text), mapping));
    } catch (error) {
      if (error instanceof LineProtocolError) bad.push({ line, message: error.message });
      else if (error instanceof InvalidEventError) bad.push({ line, message: `${error.field} ${error.reason}` });
      else throw error;
    }
  }
  return { readings, bad, lines };
}
