import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The state a threshold rule keeps per device, as lua/threshold-state.lua packs it: the one codec
 * of it in Lua (put before every script that reads it, by `withStateCodec`) and this, its mirror,
 * for what TypeScript reads. A contract test reads what the scripts write with this decoder.
 */
export interface ThresholdState {
  state: 'ok' | 'firing' | string;
  streak: number;
  /** The time the state is ordered by (see evaluate-alerts.lua). */
  order: number;
  notifiedOrder: number;
  /** The reading that last changed it, and its metric and value ('' in states written before them). */
  readingId: string;
  metric: string;
  value: string;
  flapping: boolean;
  flapTimes: number[];
}

/** A packed state as named fields; undefined when it is not one. */
export function decodeThresholdState(packed: string): ThresholdState | undefined {
  const head = /^([A-Za-z]+),(\d+),(\d+),(\d+),(.*)$/.exec(packed);
  if (!head) return undefined;
  const [, state, streak, order, notifiedOrder, rest] = head as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const [readingId = '', metric = '', value = '', ...flapParts] = rest.split(',');
  const [flag, ...times] = flapParts.join(',').split(';').filter(Boolean);
  return {
    state,
    streak: Number(streak),
    order: Number(order),
    notifiedOrder: Number(notifiedOrder),
    readingId,
    metric,
    value,
    flapping: flag === '1',
    flapTimes: times.map(Number),
  };
}

const CODEC = readFileSync(join(import.meta.dir, 'lua/threshold-state.lua'), 'utf8');

/** A script of lua/ with the state codec put before it. */
export const withStateCodec = (script: string) =>
  `${CODEC}\n${readFileSync(join(import.meta.dir, 'lua', script), 'utf8')}`;
