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
  const strings = [...point.fields].filter(([, field]) => field.kind === 'string').map(([key]) => key);
  if (strings.length > 0)
    throw new LineProtocolError(`field ${strings[0]}: string values are not readings (send numbers or booleans)`);
  const tsMs = point.timestamp === undefined ? mapping.receiptMs : timestampMs(point.timestamp, mapping.precision);
  const timeKey =
    point.timestamp === undefined
      ? `receipt:${mapping.receiptMs}`
      : (BigInt(point.timestamp) * (NS_PER[mapping.precision] as bigint)).toString();
  const unit = point.tags.get('unit') ?? '';
  return [...point.fields].map(([field, value]) => {
    const metric = field === 'value' ? point.measurement : `${point.measurement}.${field}`;
    const number = value.kind === 'number' ? value.value : value.kind === 'boolean' && value.value ? 1 : 0;
    return validateReading(
      { id: eventIdFor(tsMs, `lp|${deviceId}|${metric}|${timeKey}`), deviceId, metric, value: number, unit, ts: tsMs },
      mapping.nowMs,
    );
  });
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
