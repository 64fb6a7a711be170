import { describe, expect, it } from 'bun:test';
import { type OpeningRules, openBatch, settleOutcomes } from './entry-batch.ts';
import type { DecodedItem, RawEntry } from './types.ts';

/** Entries whose fields are `n <items…>`: an item `bad` does not decode; `throw` fails the whole entry. */
const rules = (skipUndecodable = false): OpeningRules<string> => ({
  maxDeliveries: 3,
  skipUndecodable,
  decodeItems: (fields) => {
    if (fields.includes('throw')) throw new Error('not an entry of ours');
    return fields.map(
      (field): DecodedItem<string> =>
        field === 'bad' ? { error: 'bad item', fields: [field] } : { value: field, fields: [field] },
    );
  },
});

const entries: RawEntry[] = [
  ['1-0', ['a', 'b']],
  ['2-0', null],
  ['3-0', ['throw']],
  ['4-0', ['bad']],
  ['5-0', ['c', 'bad']],
  ['6-0', ['d']],
];

describe('openBatch', () => {
  it('sets aside what it can settle at once and counts each entry’s items for the handler', () => {
    const batch = openBatch(entries, new Map([['6-0', 4]]), rules());
    expect(batch.work.map((entry) => [entry.entryId, entry.value, entry.deliveries])).toEqual([
      ['1-0', 'a', 1],
      ['1-0', 'b', 1],
      ['5-0', 'c', 1],
    ]);
    expect(batch.acks).toEqual(['2-0', '3-0', '4-0', '6-0']);
    expect(batch.dead.map((letter) => [letter.entryId, letter.reason, letter.fields])).toEqual([
      ['3-0', 'not an entry of ours', ['throw']],
      ['4-0', 'bad item', ['bad']],
      ['5-0', 'bad item', ['bad']],
      ['6-0', 'delivered 4 times (maxDeliveries 3)', ['d']],
    ]);
    expect([...batch.open]).toEqual([
      ['1-0', 2],
      ['5-0', 1],
    ]);
    expect(batch.items).toBe(5);
  });

  it('skips, without dead letters, what does not decode when asked to', () => {
    const batch = openBatch(entries, undefined, rules(true));
    expect(batch.dead).toEqual([]);
    expect(batch.skipped).toBe(3);
    expect(batch.acks).toEqual(['2-0', '3-0', '4-0']);
  });
});

describe('settleOutcomes', () => {
  it('acknowledges an entry once its last item is done or dead, and hands back what to retry', () => {
    const batch = openBatch(entries.slice(0, 1), undefined, rules());
    const first = settleOutcomes(batch, batch.work, ['done', 'retry']);
    expect(first).toEqual({ acks: [], dead: [], again: batch.work.slice(1) });
    const second = settleOutcomes(batch, first.again, [{ dead: 'refused' }]);
    expect(second.acks).toEqual(['1-0']);
    expect(second.dead).toEqual([{ entryId: '1-0', fields: ['b'], reason: 'refused', deliveries: 1 }]);
    expect(batch.open.size).toBe(0);
  });

  it('takes no outcomes as all done, and a missing one as a retry', () => {
    const all = openBatch(entries.slice(0, 1), undefined, rules());
    expect(settleOutcomes(all, all.work, undefined).acks).toEqual(['1-0']);
    const short = openBatch(entries.slice(0, 1), undefined, rules());
    expect(settleOutcomes(short, short.work, ['done']).again).toHaveLength(1);
  });
});
