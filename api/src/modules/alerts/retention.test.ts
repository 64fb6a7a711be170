import { expect, it } from 'bun:test';
import { createLogger } from 'core';
import { waitFor } from 'core/testing';
import type { StoredAlert } from '../../storage/port.ts';
import { testStore } from '../../test-helpers.ts';
import { startAlertRetention } from './retention.ts';

const DAY = 86_400_000;

it('removes alerts older than RETAIN_ALERT_DAYS by reading time, in chunks, and keeps the rest', async () => {
  const store = testStore();
  const now = Date.now();
  const alert = (index: number, ageDays: number): StoredAlert => ({
    id: `a-${String(index).padStart(6, '0')}.1`,
    ruleId: 'default',
    deviceId: `pump-${index % 7}`,
    metric: 'temp',
    value: 60,
    threshold: 50,
    state: 'firing',
    severity: 'warning',
    ts: now - ageDays * DAY,
    readingId: `r-${index}`,
    note: null,
    silenced: false,
    quiet: false,
    raisedAt: now,
  });
  // 12,000 past the bound (more than two chunks), 500 within it, one just inside.
  const old = Array.from({ length: 12_000 }, (_, i) => alert(i, 31 + (i % 300)));
  const recent = [...Array.from({ length: 500 }, (_, i) => alert(20_000 + i, i % 30)), alert(30_000, 29.99)];
  await store.insertAlerts([...old, ...recent]);
  const retention = startAlertRetention({
    store,
    retainDays: 30,
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
  });
  await waitFor(async () => (await store.alerts({}, 20_000)).length === recent.length, {
    what: 'the old alerts removed',
  });
  await retention.stop();
  expect(new Set((await store.alerts({}, 20_000)).map((a) => a.id))).toEqual(new Set(recent.map((a) => a.id)));
});
