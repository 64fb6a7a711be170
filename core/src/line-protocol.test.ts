import { describe, expect, it } from 'bun:test';
import { parsePoint, pointLines, precisionOf, timestampMs } from './line-protocol.ts';

const fieldsOf = (line: string) => Object.fromEntries(parsePoint(line).fields);

describe('line protocol', () => {
  it('reads measurement, tags, fields and timestamp, with escapes and quoted strings', () => {
    const point = parsePoint(
      'my\\ cpu,host=a\\,b,site\\=x=n\\ 1 used=1.5e2,n=-4i,u=7u,ok=T,label="a, b=\\"c\\" d" 1700000000000000000',
    );
    expect(point.measurement).toBe('my cpu');
    expect(Object.fromEntries(point.tags)).toEqual({ host: 'a,b', 'site=x': 'n 1' });
    expect(Object.fromEntries(point.fields)).toEqual({
      used: { kind: 'number', value: 150 },
      n: { kind: 'number', value: -4 },
      u: { kind: 'number', value: 7 },
      ok: { kind: 'boolean', value: true },
      label: { kind: 'string' },
    });
    expect(point.timestamp).toBe('1700000000000000000');
    expect(fieldsOf('m f=false')).toEqual({ f: { kind: 'boolean', value: false } });
    expect(parsePoint('m v=1').timestamp).toBeUndefined();
  });

  it('names what is wrong with a line', () => {
    const problem = (line: string) => {
      try {
        parsePoint(line);
        return 'parsed';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(problem('cpu')).toBe('no fields (measurement[,tags] field=value [timestamp])');
    expect(problem('cpu,host v=1')).toBe('tag "host" is not key=value');
    expect(problem('cpu v=')).toBe('field "v=" is not key=value');
    expect(problem('cpu v=abc')).toBe('field v: "abc" is not a value');
    expect(problem('cpu v=-1u')).toBe('field v: an unsigned integer is negative');
    expect(problem('cpu v="open')).toBe('a string field value is not closed (missing ")');
    expect(problem('cpu v=1 12x')).toBe('timestamp "12x" is not an integer');
    expect(problem('cpu v=1 1 2')).toBe('more than measurement, fields and timestamp');
    expect(problem(',host=a v=1')).toBe('no measurement');
  });

  it('skips blank lines and comments, numbering lines as sent', () => {
    expect([...pointLines('# c\n\na v=1\r\n  \nb v=2')].map(({ line, text }) => [line, text])).toEqual([
      [3, 'a v=1'],
      [5, 'b v=2'],
    ]);
  });

  it('reads timestamps at each precision as milliseconds, v1 names too', () => {
    expect(timestampMs('1700000000123456789', 'ns')).toBe(1_700_000_000_123);
    expect(timestampMs('1700000000123456', precisionOf('u') as string)).toBe(1_700_000_000_123);
    expect(timestampMs('1700000000123', 'ms')).toBe(1_700_000_000_123);
    expect(timestampMs('1700000000', precisionOf('s') as string)).toBe(1_700_000_000_000);
    // Truncated toward zero, as integer division: before 1970 too, and never a negative zero.
    expect(timestampMs('-1234567', 'ns')).toBe(-1);
    expect(timestampMs('999999', 'ns')).toBe(0);
    expect(Object.is(timestampMs('-0000001', 'ns'), 0)).toBe(true);
    expect(Object.is(timestampMs('-0', 'ms'), 0)).toBe(true);
    expect(timestampMs('-0012', 's')).toBe(-12_000);
    expect(precisionOf(undefined)).toBe('ns');
    expect(precisionOf('h')).toBeUndefined();
  });
});
