import { describe, expect, it } from 'bun:test';
import { eventIdFor } from './ids.ts';

describe('eventIdFor', () => {
  // Pinned: a door's retry of one message after an upgrade must get the id it got before, or
  // storage would keep the reading twice.
  it('makes the same UUIDv7 for a moment and a key as every version before', () => {
    expect(eventIdFor(1_795_213_800_123, 'lp|pump-1|cpu.usage|1795213800123000000')).toBe(
      '01a1fb14-b2bb-723d-b775-56a41bada792',
    );
    expect(eventIdFor(0, '')).toBe('00000000-0000-73b0-8442-98fc1c149afb');
    expect(eventIdFor(2 ** 48 + 5, 'ü')).toBe('ffffffff-ffff-7074-b4ca-475a9724d736');
  });
});
