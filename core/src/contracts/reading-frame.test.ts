import { describe, expect, it } from 'bun:test';
import { decodeReadingItems, decodeReadings, encodeReadingFrame, frameAlertMode } from './reading-frame.ts';
import { type Reading, decodeReading, encodeReading, encodeReadingV1 } from './reading.ts';

const reading = (id: string, value: number): Reading => ({
  id,
  deviceId: 'pump-1',
  metric: 'temp',
  value,
  unit: '°C',
  ts: 1_763_800_000_000,
});

describe('reading frames (contract v3)', () => {
  it('pins the wire format: v 3 f, each element a v2 array', () => {
    expect(encodeReadingFrame([reading('a', 1), reading('b', 2.5)])).toEqual([
      'v',
      '3',
      'f',
      '[["a","pump-1","temp",1,"°C",1763800000000],["b","pump-1","temp",2.5,"°C",1763800000000]]',
    ]);
  });

  it('round-trips, in order', () => {
    const readings = Array.from({ length: 500 }, (_, i) => reading(`r-${i}`, i));
    expect(
      decodeReadingItems(encodeReadingFrame(readings)).map((item) => ('value' in item ? item.value : item.error)),
    ).toEqual(readings);
  });

  it('reads single-reading entries too (v1, v2): one item, their own fields', () => {
    for (const fields of [encodeReading(reading('a', 1)), encodeReadingV1(reading('a', 1))])
      expect(decodeReadingItems(fields)).toEqual([{ value: reading('a', 1), fields }]);
  });

  it('decodeReadings: the readings of an entry of any version, a frame included; a bad element names the frame entry', () => {
    expect(decodeReadings(encodeReadingFrame([reading('a', 1), reading('b', 2)]))).toEqual([
      reading('a', 1),
      reading('b', 2),
    ]);
    expect(decodeReadings(encodeReading(reading('a', 1)))).toEqual([reading('a', 1)]);
    expect(decodeReadings(encodeReadingV1(reading('a', 1)))).toEqual([reading('a', 1)]);
    expect(() => decodeReadings(['v', '3', 'f', '[["a","pump-1","temp","hot","°C",1763800000000]]'])).toThrow(
      /frame element 0: .*value/,
    );
    // decodeReading reads one reading, and says where a frame is read.
    expect(() => decodeReading(encodeReadingFrame([reading('a', 1)]))).toThrow('decodeReadings reads');
  });

  it('names each bad element alone, with fields that replay as a v2 entry; the good ones decode', () => {
    const fields = [
      'v',
      '3',
      'f',
      '[["a","pump-1","temp",1,"°C",1763800000000],["b","pump-1","temp","hot","°C",1763800000000],[1,2],["c","pump 2","temp",3,"°C",1763800000000]]',
    ];
    const items = decodeReadingItems(fields);
    expect(items.map((item) => ('value' in item ? item.value.id : item.error))).toEqual([
      'a',
      expect.stringMatching(/^frame element 1: .*value/),
      expect.stringMatching(/^frame element 2: .*must be a JSON array/),
      expect.stringMatching(/^frame element 3: .*deviceId/),
    ]);
    expect(items[1]?.fields).toEqual(['v', '2', 'r', '["b","pump-1","temp","hot","°C",1763800000000]']);
  });

  it('refuses a frame that is not a non-empty JSON array as a whole, naming f', () => {
    for (const raw of ['', 'nope', '[]', '{"a":1}'])
      expect(() => decodeReadingItems(['v', '3', 'f', raw])).toThrow(/f must be a non-empty JSON array/);
    expect(() => decodeReadingItems(['v', '3', 'r', '[]'])).toThrow(/f is missing/);
  });

  it('carries an alert mode after the frame (an import’s ?alerts=), and names a mode it does not know', () => {
    const fields = [...encodeReadingFrame([reading('a', 1), reading('b', 2)]), 'a', 'record'];
    expect(frameAlertMode(fields)).toBe('record');
    expect(decodeReadingItems(fields).map((item) => ('value' in item ? item.value.id : item.error))).toEqual([
      'a',
      'b',
    ]);
    expect(frameAlertMode(encodeReadingFrame([reading('a', 1)]))).toBeUndefined();
    expect(() => decodeReadingItems([...encodeReadingFrame([reading('a', 1)]), 'a', 'sometimes'])).toThrow(
      /a must be one of notify, record, skip/,
    );
  });
});
