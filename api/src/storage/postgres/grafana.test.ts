/**
 * The Grafana dashboard (grafana/dashboards/telemetry.json) against a real PostgreSQL with the
 * schema: every query it sends — panels, variables, annotations — with Grafana's macros and
 * variables expanded as Grafana does, must run and give what the stored rows say, with hours
 * compacted, hours made dirty again by a late reading, a PATCH and a DELETE, at each interval
 * Grafana picks (so the query reads minute, hour or day rollups).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQL } from 'bun';
import { type TestDatabase, usePostgres } from 'core/testing';
import type { StoredAlert, StoredRow } from '../port.ts';
import { openPostgresStore } from './store.ts';

interface Target {
  rawSql: string;
  format: string;
}
interface Dashboard {
  panels: Array<{ title: string; targets: Target[] }>;
  templating: { list: Array<{ name: string; query: string }> };
  annotations: { list: Array<{ name: string; target: Target }> };
}

const dashboard = JSON.parse(
  readFileSync(join(import.meta.dir, '../../../../grafana/dashboards/telemetry.json'), 'utf8'),
) as Dashboard;
const panel = (title: string) => dashboard.panels.find((p) => p.title === title)?.targets[0]?.rawSql as string;
const variable = (name: string) => dashboard.templating.list.find((v) => v.name === name)?.query as string;

interface Scope {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  devices: string[];
  metrics: string[];
}

/** A text variable's values as Grafana puts a multi-value variable into SQL: quoted, comma-separated. */
const quoted = (values: string[]) => values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',');

/**
 * The dashboard's SQL as Grafana sends it: the global time variables ($__from and $__to, epoch
 * ms; $__interval_ms) and the dashboard's variables replaced. Anything else left with a `$` is a
 * macro this test does not know: it fails, so the dashboard cannot use one untested.
 */
function expand(sql: string, scope: Scope): string {
  const text = sql
    .replaceAll('$__interval_ms', String(scope.intervalMs))
    .replaceAll('$__from', String(scope.fromMs))
    .replaceAll('$__to', String(scope.toMs))
    .replaceAll('$device', quoted(scope.devices))
    .replaceAll('$metric', quoted(scope.metrics));
  expect(text).not.toContain('$');
  return text;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const BASE = Date.UTC(2026, 10, 20);
const DEVICES = ['dev-a', "dev-b'quoted", 'dev-c'];
const METRICS = ['kwh', 'temp'];

/** Readings over three days: spread out, and bunched in a few minutes of the first hours. */
function readings(): StoredRow[] {
  const rows: StoredRow[] = [];
  let n = 0;
  for (let i = 0; i < 1_500; i++) {
    const ts = i % 3 === 0 ? BASE + ((i * 7_919_993) % (3 * DAY)) : BASE + ((i * 104_729) % (2 * HOUR));
    rows.push({
      id: `g-${++n}`,
      deviceId: DEVICES[i % 3] as string,
      metric: METRICS[(i >> 1) % 2] as string,
      value: ((i * 37) % 101) / 4 - 5,
      unit: 'u',
      ts,
      storedAt: ts,
    });
  }
  return rows;
}

let postgres: TestDatabase;
let sql: SQL;
const rows = new Map<string, StoredRow>();
const alerts: StoredAlert[] = [];

beforeAll(async () => {
  postgres = await usePostgres();
  const store = await openPostgresStore(postgres.url, { poolSize: 2 });
  try {
    const first = readings();
    await store.insert(first);
    for (const row of first) rows.set(row.id, row);
    // The first two days compacted into hours and days, then changed again: a late reading, a
    // PATCH and a DELETE make three of their hours dirty (read from minutes until compacted).
    await store.compactRollups(BASE + 2 * DAY, 10_000);
    const late: StoredRow = { ...first[5], id: 'g-late', value: 1_000, ts: BASE + 30 * MINUTE + 17 } as StoredRow;
    await store.insert([late]);
    rows.set(late.id, late);
    const patched = await store.patch(first[9]?.id as string, { value: -1_000 });
    rows.set(patched?.id as string, patched as StoredRow);
    const removed = [...rows.values()].find((r) => r.ts >= BASE + DAY + 5 * HOUR) as StoredRow;
    expect(await store.remove(removed.id)).toBe(true);
    rows.delete(removed.id);
    for (const [i, state] of (['firing', 'resolved', 'firing'] as const).entries())
      alerts.push({
        id: `alert-${i}`,
        ruleId: 'too-hot',
        deviceId: DEVICES[i % 2] as string,
        metric: 'temp',
        value: i === 2 ? null : 30 + i,
        threshold: i === 2 ? null : 25,
        state,
        severity: 'critical',
        ts: BASE + (i + 1) * HOUR,
        readingId: `g-${i}`,
        note: i === 2 ? 'silent for 5m' : null,
        silenced: false,
        quiet: false,
        raisedAt: BASE + (i + 1) * HOUR,
      });
    await store.insertAlerts(alerts);
  } finally {
    await store.close();
  }
  sql = new SQL(postgres.url, { max: 1 });
});
afterAll(async () => {
  await sql?.close();
  await postgres?.stop();
});

const inScope = (r: StoredRow, scope: Scope) =>
  r.ts >= scope.fromMs && r.ts < scope.toMs && scope.devices.includes(r.deviceId) && scope.metrics.includes(r.metric);

/** Each interval's bucket of a reading: the interval's (its rollup rows start on it), else the minute. */
const bucketOf = (ts: number, intervalMs: number) =>
  intervalMs >= MINUTE ? Math.floor(ts / intervalMs) * intervalMs : Math.floor(ts / MINUTE) * MINUTE;

/** Groups the scope's readings by bucket and (device · metric), or by bucket alone. */
function grouped(scope: Scope, bySeries: boolean) {
  const groups = new Map<string, { time: number; metric?: string; values: number[] }>();
  for (const r of [...rows.values()].filter((row) => inScope(row, scope))) {
    const time = bucketOf(r.ts, scope.intervalMs);
    const metric = bySeries ? `${r.deviceId} · ${r.metric}` : undefined;
    const key = `${time}|${metric}`;
    const group = groups.get(key) ?? { time, metric, values: [] };
    group.values.push(r.value);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => a.time - b.time || ((a.metric ?? '') < (b.metric ?? '') ? -1 : 1));
}

const ms = (time: Date) => time.getTime();
// Grafana's intervals: seconds for short ranges, then minutes, hours, days, weeks.
const INTERVALS = [20_000, MINUTE, 5 * MINUTE, HOUR, 3 * HOUR, DAY, 7 * DAY];
const scopes: Scope[] = INTERVALS.flatMap((intervalMs) => [
  { fromMs: BASE - DAY, toMs: BASE + 4 * DAY, intervalMs, devices: DEVICES, metrics: METRICS },
  { fromMs: BASE, toMs: BASE + DAY, intervalMs, devices: [DEVICES[1] as string], metrics: ['temp'] },
]);

describe('the Grafana dashboard on PostgreSQL', () => {
  it('queries the provisioned data source in every panel, variable and annotation', async () => {
    const file = join(import.meta.dir, '../../../../grafana/provisioning/datasources/telemetry.yaml');
    const provisioned = Bun.YAML.parse(await Bun.file(file).text()) as {
      datasources: Array<{ uid: string; type: string; jsonData: { database: string } }>;
    };
    const [source] = provisioned.datasources;
    const used = JSON.stringify(dashboard).match(/"datasource":\s*\{[^}]*\}/g) ?? [];
    expect(used.length).toBeGreaterThan(dashboard.panels.length);
    for (const reference of used)
      expect(JSON.parse(reference.slice(reference.indexOf('{')))).toEqual({ type: source?.type, uid: source?.uid });
    expect(source?.jsonData.database).toBe('${TELEMETRY_PG_DATABASE}');
  });

  it('lists the devices and the metrics of the time range for its variables', async () => {
    const scope = scopes[0] as Scope;
    const devices = await sql.unsafe(expand(variable('device'), scope));
    expect(devices.map((r: { device_id: string }) => r.device_id)).toEqual([...DEVICES].sort());
    const metrics = await sql.unsafe(expand(variable('metric'), { ...scope, fromMs: BASE, toMs: BASE + HOUR }));
    expect(metrics.map((r: { metric: string }) => r.metric)).toEqual(METRICS);
  });

  for (const scope of scopes) {
    const name = `${scope.intervalMs / 1_000} s intervals, ${scope.devices.length} device(s)`;
    it(`plots each interval's mean, min and max by device and metric, and its count (${name})`, async () => {
      const wanted = grouped(scope, true);
      const means = await sql.unsafe(expand(panel('Mean by device and metric'), scope));
      expect(means.map((r: { time: Date; metric: string }) => [ms(r.time), r.metric])).toEqual(
        wanted.map((g) => [g.time, g.metric]),
      );
      means.forEach((r: { mean: number }, i: number) => {
        const values = wanted[i]?.values as number[];
        expect(r.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
      });
      const extremes = await sql.unsafe(expand(panel('Lowest and highest'), scope));
      expect(
        extremes.map((r: { time: Date; metric: string; min: number; max: number }) => [
          ms(r.time),
          r.metric,
          r.min,
          r.max,
        ]),
      ).toEqual(wanted.map((g) => [g.time, g.metric, Math.min(...g.values), Math.max(...g.values)]));
      const counts = await sql.unsafe(expand(panel('Readings stored'), scope));
      expect(counts.map((r: { time: Date; readings: string }) => [ms(r.time), Number(r.readings)])).toEqual(
        grouped(scope, false).map((g) => [g.time, g.values.length]),
      );
    });
  }

  it('runs every panel on a range that is not whole minutes, and on no device at all', async () => {
    for (const scope of [
      { fromMs: BASE + 12_345, toMs: BASE + DAY + 54_321, intervalMs: 5 * MINUTE, devices: DEVICES, metrics: METRICS },
      { fromMs: BASE, toMs: BASE + DAY, intervalMs: HOUR, devices: [], metrics: [] },
    ])
      for (const p of dashboard.panels) await sql.unsafe(expand(p.targets[0]?.rawSql as string, scope));
  });

  it('tables every device with its newest reading and its readings in the range', async () => {
    const scope = { fromMs: BASE, toMs: BASE + DAY, intervalMs: MINUTE, devices: DEVICES, metrics: METRICS };
    const table = await sql.unsafe(expand(panel('Devices'), scope));
    const stored = [...rows.values()];
    expect(
      table.map((r: { device: string; last_reading: Date; readings_in_range: string; metrics: string }) => [
        r.device,
        ms(r.last_reading),
        Number(r.readings_in_range),
        r.metrics,
      ]),
    ).toEqual(
      [...DEVICES].sort().map((device) => {
        const own = stored.filter((r) => r.deviceId === device);
        const inRange = own.filter((r) => inScope(r, scope));
        return [
          device,
          Math.max(...own.map((r) => r.ts)),
          inRange.length,
          [...new Set(inRange.map((r) => r.metric))].sort().join(', '),
        ];
      }),
    );
  });

  it('marks the alerts of the chosen devices in the range as annotations', async () => {
    const target = dashboard.annotations.list.find((a) => a.name === 'Alerts')?.target as Target;
    const scope = {
      fromMs: BASE,
      toMs: BASE + 3 * HOUR,
      intervalMs: MINUTE,
      devices: [DEVICES[0] as string],
      metrics: METRICS,
    };
    const marks = await sql.unsafe(expand(target.rawSql, scope));
    expect(marks.map((r: { time: Date; text: string; tags: string }) => [ms(r.time), r.text, r.tags])).toEqual([
      [BASE + HOUR, 'critical firing: too-hot on dev-a temp = 30', 'critical,firing,too-hot'],
    ]);
    const all = await sql.unsafe(expand(target.rawSql, { ...scope, toMs: BASE + DAY, devices: DEVICES }));
    expect(all.map((r: { text: string }) => r.text)).toEqual([
      'critical firing: too-hot on dev-a temp = 30',
      "critical resolved: too-hot on dev-b'quoted temp = 31",
      'critical firing: too-hot on dev-a temp (silent for 5m)',
    ]);
  });
});
