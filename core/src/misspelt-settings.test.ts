import { describe, expect, it } from 'bun:test';
import { misspeltSettings } from './misspelt-settings.ts';

const known = new Set(['REDIS_URL', 'ALERT_THRESHOLD', 'API_TOKEN', 'PORT']);

describe('misspeltSettings', () => {
  it('names a key one or two edits from a setting — wrong, missing, extra or swapped letters, lower case — with the setting it is like', () => {
    expect(misspeltSettings(['ALERT_TRESHOLD', 'REDIS_ULR', 'API_TOKENS', 'redis_url', 'PROT'], known)).toEqual([
      { key: 'ALERT_TRESHOLD', meant: 'ALERT_THRESHOLD' },
      { key: 'REDIS_ULR', meant: 'REDIS_URL' },
      { key: 'API_TOKENS', meant: 'API_TOKEN' },
      { key: 'redis_url', meant: 'REDIS_URL' },
      { key: 'PROT', meant: 'PORT' },
    ]);
  });

  it('leaves settings and a user’s own keys far from every setting alone (a short name takes one edit only: PATH is not PORT)', () => {
    expect(misspeltSettings(['REDIS_URL', 'PORT', 'MY_APP_SECRET', 'HOME', 'NODE_ENV', 'PATH'], known)).toEqual([]);
  });
});
