import { describe, expect, it } from 'bun:test';
import { InvalidEventError } from './errors.ts';
import { decodeReading, encodeReading, encodeReadingV1, type Reading } from './reading.ts';

const reading: Reading = {
  id: '019a5e2c-7b1a-7c3e-9f00-0123456789ab',
  deviceId: 'device-001',
  metric: 'kwh',
  value: 42.5,
  unit: 'kWh',
  ts: 1_763_800_000_123,
};

/** Runs decode and returns the InvalidEventError it throws (fails the test if it does not throw). */
function rejection(fields: Record<string, string | undefined>): InvalidEventError {
  try {
    decodeReading(fields);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error(`expected ${JSON.stringify(fields)} to be rejected`);
}

const valid = (): Record<string, string | undefined> => ({
  v: '1',
  id: reading.id,
  deviceId: 'device-001',
  metric: 'kwh',
  value: '42.5',
  unit: 'kWh',
  ts: '1763800000123',
});

describe('reading contract v1', () => {
  it('pins the v1 wire format: field names, order and string forms', () => {
    expect(encodeReadingV1(reading)).toEqual([
      'v',
      '1',
      'id',
      '019a5e2c-7b1a-7c3e-9f00-0123456789ab',
      'deviceId',
      'device-001',
      'metric',
      'kwh',
      'value',
      '42.5',
      'unit',
      'kWh',
      'ts',
      '1763800000123',
    ]);
  });

  it('decodes a pinned v1 entry as a producer wrote it', () => {
    expect(decodeReading(valid())).toEqual(reading);
  });

  it('round-trips exactly, including awkward numbers and units', () => {
    for (const value of [0, -0.5, 1e-7, 123456789.123456, Number.MAX_SAFE_INTEGER, -1e21]) {
      const sample = { ...reading, value, unit: '°C' };
      expect(decodeReading(encodeReadingV1(sample))).toEqual(sample);
    }
  });

  it('ignores unknown extra fields so newer producers do not break older consumers', () => {
    expect(decodeReading({ ...valid(), firmware: '2.1' })).toEqual(reading);
  });

  it.each([
    ['v', undefined, 'v is missing'],
    ['v', '9', 'v is an unknown version "9"'],
    ['id', undefined, 'id is missing'],
    ['deviceId', undefined, 'deviceId is missing'],
    ['deviceId', 'x'.repeat(129), 'deviceId'],
    ['deviceId', 'has space', 'deviceId'],
    ['deviceId', '', 'deviceId'],
    ['metric', undefined, 'metric is missing'],
    ['value', undefined, 'value is missing'],
    ['value', 'abc', 'value must be a finite number, got "abc"'],
    ['value', 'NaN', 'value must be a finite number'],
    ['value', 'Infinity', 'value must be a finite number'],
    ['value', '1e400', 'value must be a finite number'],
    ['value', '', 'value must be a finite number'],
    ['unit', undefined, 'unit is missing'],
    ['ts', undefined, 'ts is missing'],
    ['ts', '12.5', 'ts must be integer epoch milliseconds'],
    ['ts', '-5', 'ts must be integer epoch milliseconds'],
    ['ts', '2026-11-22T10:00:00Z', 'ts must be integer epoch milliseconds'],
    ['ts', '9999999999999999', 'ts is beyond the last representable date'],
  ])('rejects %s = %p, naming the field', (field, bad, message) => {
    const error = rejection({ ...valid(), [field]: bad });
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });

  it('does not echo a huge bad value back in the message', () => {
    const error = rejection({ ...valid(), value: '9'.repeat(10_000) + 'x' });
    expect(error.message.length).toBeLessThan(200);
  });

  it('decodes the flat field list ioredis returns', () => {
    expect(decodeReading(encodeReadingV1(reading))).toEqual(reading);
    expect(() => decodeReading(['v', '1', 'id'])).toThrow('name/value pairs');
  });
});

describe('reading contract v2 (current)', () => {
  const pinned = [
    'v',
    '2',
    'r',
    '["019a5e2c-7b1a-7c3e-9f00-0123456789ab","device-001","kwh",42.5,"kWh",1763800000123]',
  ];

  it('pins the wire format: two fields, the reading as a JSON array in a fixed order', () => {
    expect(encodeReading(reading)).toEqual(pinned);
  });

  it('decodes a pinned v2 entry, as a list or as a record, with extra fields ignored', () => {
    expect(decodeReading(pinned)).toEqual(reading);
    expect(decodeReading({ v: '2', r: pinned[3], firmware: '2.1' })).toEqual(reading);
    expect(decodeReading([...pinned, 'firmware', '2.1'])).toEqual(reading);
  });

  it('round-trips exactly, including awkward numbers and units', () => {
    for (const value of [0, -0.5, 1e-7, 123456789.123456, Number.MAX_SAFE_INTEGER, -1e21]) {
      const sample = { ...reading, value, unit: '°C "quoted", [bracketed]' };
      expect(decodeReading(encodeReading(sample))).toEqual(sample);
    }
  });

  it.each([
    ['{"id":1}', 'r must be a JSON array'],
    ['[1,2,3]', 'r must be a JSON array'],
    ['not json', 'r must be a JSON array [id, deviceId, metric, value, unit, ts], got "not json"'],
    ['["x","device-001","kwh","42","kWh",1]', 'value'],
    ['["x","has space","kwh",42,"kWh",1]', 'deviceId'],
    ['["x","d","kwh",42,"kWh",12.5]', 'ts'],
    ['["x","d","kwh",42,"kWh",-1]', 'ts'],
    ['["x","d","kwh",42,"kWh",9999999999999999]', 'ts'],
    ['[null,"d","kwh",42,"kWh",1]', 'id'],
  ])('rejects r = %s, naming the field', (r, message) => {
    expect(() => decodeReading(['v', '2', 'r', r])).toThrow(message);
    expect(() => decodeReading({ v: '2', r })).toThrow(InvalidEventError);
  });

  it('names r when it is missing', () => {
    expect(() => decodeReading({ v: '2', id: 'x' })).toThrow('r is missing');
  });
});
