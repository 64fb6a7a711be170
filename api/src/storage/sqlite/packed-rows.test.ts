import { describe, expect, it } from 'bun:test';
import type { StoredRow } from '../port.ts';
import { packGroups, unpackGroups } from './packed-rows.ts';

describe('rows packed for the writer thread', () => {
  it('come back exactly as they were, group by group: every double (-0, the smallest, the largest), any text', () => {
    const row = (id: string, value: number, extra: Partial<StoredRow> = {}): StoredRow => ({
      id,
      deviceId: 'dev-1',
      metric: 'temp',
      value,
      unit: '°C',
      ts: 1_795_213_800_123,
      storedAt: 1_795_213_800_456,
      ...extra,
    });
    const groups = [
      [row('a', -0), row('b', 5e-324), row('c', Number.MAX_VALUE, { unit: '"quoted",\\n' })],
      [],
      [row('d', -1.5, { deviceId: 'ünï-\u{1F600}', metric: 'm\ud800', ts: 8.64e15, storedAt: -8.64e15 })],
    ];
    const back = unpackGroups(structuredClone(packGroups(groups)));
    expect(back).toEqual(groups);
    expect(Object.is(back[0]?.[0]?.value, -0)).toBe(true);
  });
});
