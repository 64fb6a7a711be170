import { describe, expect, it } from 'bun:test';
import { neutraliseCsvCell, neutraliseCsvLine } from './csv-safety.ts';

describe('CSV formula neutralising', () => {
  it('prefixes cells a spreadsheet would run, and leaves plain numbers and text alone', () => {
    for (const [cell, safe] of [
      ['=cmd|" /C calc"!A0', `'=cmd|" /C calc"!A0`],
      ['+1+1', "'+1+1"],
      ['-1+cmd|x', "'-1+cmd|x"],
      ['@SUM(A1)', "'@SUM(A1)"],
      ['\tx', "'\tx"],
      ['\rx', "'\rx"],
      ['-3.5', '-3.5'],
      ['+2', '+2'],
      ['-1e-5', '-1e-5'],
      ['kWh', 'kWh'],
      ['', ''],
    ]) {
      expect(neutraliseCsvCell(cell as string)).toBe(safe as string);
    }
  });

  it('rewrites only lines with such a cell, splitting quoted lines with the given parser', () => {
    const split = (line: string) => line.split(',').map((cell) => cell.replace(/^"|"$/g, ''));
    const join = (cells: string[]) => cells.map((cell) => `"${cell}"`).join(',');
    expect(neutraliseCsvLine('a,-3.5,kWh', split, join)).toBe('a,-3.5,kWh');
    expect(neutraliseCsvLine('a,1,=1+1', split, join)).toBe("a,1,'=1+1");
    expect(neutraliseCsvLine('a,1,"@x"', split, join)).toBe(`"a","1","'@x"`);
  });
});
