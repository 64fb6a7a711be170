import { describe, expect, test } from 'bun:test';
import { idFilter, idProbe, mayHold } from './id-filter.ts';

const idsOf = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `0190${prefix}-${String(i).padStart(4, '0')}-7000-8000-000000000000`);

/** A filter of the first form (K alone in the first byte, places by modulo), as chunks kept it. */
function firstFormFilter(ids: readonly string[]): Uint8Array {
  const bytes = Math.max(8, Math.ceil((ids.length * 10) / 8));
  const filter = new Uint8Array(1 + bytes);
  filter[0] = 7;
  const bits = bytes * 8;
  for (const id of ids) {
    const { h1, h2 } = idProbe(id);
    for (let i = 0; i < 7; i++) {
      const bit = (h1 + i * h2) % bits;
      filter[1 + (bit >>> 3)] = (filter[1 + (bit >>> 3)] as number) | (1 << (bit & 7));
    }
  }
  return filter;
}

describe('a chunk’s id filter', () => {
  test('never says no to an id it holds, by text or by probe', () => {
    const ids = idsOf('aaaa', 500);
    const filter = idFilter(ids);
    for (const id of ids) {
      expect(mayHold(filter, id)).toBe(true);
      expect(mayHold(filter, idProbe(id))).toBe(true);
    }
  });

  test('says maybe to few ids it does not hold', () => {
    const filter = idFilter(idsOf('aaaa', 1_000));
    const others = idsOf('bbbb', 10_000).filter((id) => mayHold(filter, idProbe(id)));
    // 0.08% expected; ten times that would still be a filter, a hundred would not.
    expect(others.length).toBeLessThan(100);
  });

  test('still reads filters of the first form', () => {
    const ids = idsOf('cccc', 300);
    const filter = firstFormFilter(ids);
    for (const id of ids) expect(mayHold(filter, idProbe(id))).toBe(true);
    expect(idsOf('dddd', 1_000).filter((id) => mayHold(filter, id)).length).toBeLessThan(200);
  });

  test('a damaged filter says maybe, so the chunk itself decides', () => {
    expect(mayHold(new Uint8Array([0, 0, 0]), 'any-id')).toBe(true);
    expect(mayHold(new Uint8Array([0x80 | 11]), 'any-id')).toBe(true);
    expect(mayHold(new Uint8Array(0), 'any-id')).toBe(true);
  });
});
