import { describe, expect, it } from 'bun:test';
import { type Alert, decodeAlert, encodeAlert } from './alert.ts';

const alert: Alert = {
  id: '019a5e2c-7b1a-7c3e-9f00-0123456789ff',
  ruleId: 'default',
  deviceId: 'device-004',
  metric: 'kwh',
  value: 50.01,
  threshold: 50,
  state: 'firing',
  severity: 'warning',
  ts: 1_763_800_000_123,
  readingId: '019a5e2c-7b1a-7c3e-9f00-0123456789ab',
};

describe('alert contract v1', () => {
  it('pins the wire format', () => {
    expect(encodeAlert(alert)).toEqual([
      'v',
      '1',
      'id',
      alert.id,
      'ruleId',
      'default',
      'deviceId',
      'device-004',
      'metric',
      'kwh',
      'value',
      '50.01',
      'threshold',
      '50',
      'state',
      'firing',
      'severity',
      'warning',
      'ts',
      '1763800000123',
      'readingId',
      alert.readingId,
    ]);
  });

  it('round-trips exactly', () => {
    expect(decodeAlert(encodeAlert(alert))).toEqual(alert);
  });

  it('rejects an unknown state, naming the field', () => {
    const fields = encodeAlert(alert);
    fields[fields.indexOf('state') + 1] = 'exploded';
    expect(() => decodeAlert(fields)).toThrow(/state/);
  });

  it('carries the optional note and quiet mark, and an older reader-shaped entry without them still decodes', () => {
    const noted: Alert = { ...alert, note: 'rule default was removed', quiet: true };
    const fields = encodeAlert(noted);
    expect(fields.slice(-4)).toEqual(['note', 'rule default was removed', 'quiet', '1']);
    expect(decodeAlert(fields)).toEqual(noted);
    expect(decodeAlert(encodeAlert(alert))).not.toHaveProperty('note');
  });

  it('carries an absence alert without value and threshold, and still names a bad one that has them', () => {
    const { value: _value, threshold: _threshold, ...rest } = alert;
    const silent: Alert = { ...rest, note: 'silent: no reading from the device for 300 s' };
    const fields = encodeAlert(silent);
    expect(fields).not.toContain('value');
    expect(fields).not.toContain('threshold');
    expect(decodeAlert(fields)).toEqual(silent);
    const bad = encodeAlert(alert).map((field) => (field === '50.01' ? 'lots' : field));
    expect(() => decodeAlert(bad)).toThrow(/value/);
  });
});
