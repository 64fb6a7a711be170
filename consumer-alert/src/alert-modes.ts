import { type AlertMode, type DecodedReadingItem, type Reading, decodeReadingItems, frameAlertMode } from 'core';

/**
 * What a frame's publisher asked alerting to do with its readings (an import's `?alerts=`), kept
 * beside each decoded reading for the evaluators: the readings themselves stay the contract's.
 */
const modes = new WeakMap<Reading, AlertMode>();

/**
 * The `alerts` group's decoder: every entry's readings as the store group reads them, except a
 * frame marked `skip`, which has none to evaluate (it is acknowledged at once); the mode of a frame
 * marked `notify` or `record` goes with each of its readings.
 */
export function decodeForAlerting(fields: string[]): DecodedReadingItem[] {
  const items = decodeReadingItems(fields);
  const mode = frameAlertMode(fields);
  if (mode === 'skip') return [];
  if (mode) for (const item of items) if ('value' in item) modes.set(item.value, mode);
  return items;
}

/**
 * Why the transitions a reading causes are recorded and not sent, or undefined when they are
 * sent: its frame says `record`; or, unless it says `notify`, it arrived longer than
 * `notifyMaxAgeMs` (ALERT_NOTIFY_MAX_AGE_MS; 0: never) after it was taken — an import, a replay,
 * a device's buffer after days offline must not page anyone about the past. Measured at arrival
 * (the stream entry's time), so readings held up behind an outage of alerting itself still page.
 */
export function quietReason(reading: Reading, arrivedAt: number, notifyMaxAgeMs: number): string | undefined {
  const mode = modes.get(reading);
  if (mode === 'record') return 'imported with alerts=record: recorded, not sent';
  if (mode === 'notify' || notifyMaxAgeMs <= 0) return undefined;
  const lateMs = arrivedAt - reading.ts;
  if (lateMs <= notifyMaxAgeMs) return undefined;
  return `from the past: taken ${Math.floor(lateMs / 60_000)} min before it arrived (ALERT_NOTIFY_MAX_AGE_MS): recorded, not sent`;
}
