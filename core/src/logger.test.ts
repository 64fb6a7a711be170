import { describe, expect, it } from 'bun:test';
import { createLogger } from './logger.ts';

describe('createLogger', () => {
  it('writes one JSON line per outcome with service, event and fields', () => {
    const lines: string[] = [];
    const logger = createLogger({ service: 'producer', pretty: false, write: (line) => lines.push(line) }).child({
      stream: 'readings',
    });
    logger.info('published', { count: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    const line = JSON.parse(lines[0] as string);
    expect(line).toMatchObject({
      level: 'info',
      service: 'producer',
      event: 'published',
      stream: 'readings',
      count: 3,
    });
    expect(Number.isNaN(Date.parse(line.time))).toBe(false);
  });

  it('drops lines below the configured level', () => {
    const lines: string[] = [];
    const logger = createLogger({ service: 's', level: 'warn', pretty: false, write: (line) => lines.push(line) });
    logger.debug('a');
    logger.info('b');
    logger.warn('c');
    logger.error('d');
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['c', 'd']);
  });

  it('keeps an error readable instead of {}', () => {
    const lines: string[] = [];
    const logger = createLogger({ service: 's', pretty: false, write: (line) => lines.push(line) });
    logger.error('failed', { error: new TypeError('boom') });
    expect(JSON.parse(lines[0] as string).error).toEqual({ name: 'TypeError', message: 'boom' });
  });

  it('prints a short readable line on a terminal', () => {
    const lines: string[] = [];
    createLogger({ service: 'producer', pretty: true, write: (line) => lines.push(line) }).warn('buffering', {
      buffered: 10,
    });
    expect(lines[0]).toContain('producer buffering buffered=10');
    expect(lines[0]).toContain('WARN');
  });
});
