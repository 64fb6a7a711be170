/// <reference lib="dom" />
import { afterAll, beforeAll, expect, it } from 'bun:test';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, encodeReading, newEventId } from 'core';
import { type RedisServer, type ServiceProcess, freePort, startRedisServer, startService, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { type Browser, type Page, chromium } from 'playwright-core';

const root = join(import.meta.dir, '../../../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: RedisServer;
let redis: Redis;
let dir: string;
let base: string;
let browser: Browser;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `the dashboard test drives Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
    );
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'dashboard-test' });
  dir = await mkdtemp(join(tmpdir(), 'dashboard-test-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: server.url,
    API_URL: base,
    API_TOKEN: 'dash',
    HEARTBEAT_INTERVAL_MS: '500',
    LOG_LEVEL: 'warn',
  };
  services.push(
    startService(join(root, 'api/src/index.ts'), {
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'dash.db'),
    }),
  );
  await waitFor(
    () =>
      fetch(`${base}/health`).then(
        (r) => r.status < 500,
        () => false,
      ),
    { what: 'API' },
  );
  services.push(startService(join(root, 'consumer-store/src/index.ts'), env));
  services.push(startService(join(root, 'consumer-alert/src/index.ts'), env));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  for (const service of services) await service.kill('SIGTERM');
  redis?.disconnect();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function publish(values: number[], deviceId: string) {
  for (const value of values) {
    await redis.xadd(
      'readings',
      '*',
      ...encodeReading({ id: newEventId(), deviceId, metric: 'kwh', value, unit: 'kWh', ts: Date.now() }),
    );
    await Bun.sleep(20);
  }
}

it('shows live readings, the chart, system health and an alert as it fires, offline', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const foreign: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('request', (request) => {
    if (!request.url().startsWith(base)) foreign.push(request.url());
  });
  await page.goto(base);
  await publish([12, 18, 25, 31, 22, 15, 28, 35, 41, 19], 'device-a');
  await publish([40, 38, 33, 45, 29, 31, 27, 44, 36, 30], 'device-b');

  await page.waitForFunction(() => document.querySelectorAll('#readings tr').length >= 20, undefined, {
    timeout: 15_000,
  });
  expect(await page.locator('#legend').textContent()).toContain('device-a');
  expect(await page.locator('#connection').textContent()).toBe('live');
  await page.waitForFunction(() => document.querySelector('#health')?.textContent?.includes('ok'), undefined, {
    timeout: 15_000,
  });
  expect(await page.locator('#health-detail').textContent()).toContain('consumer-store');
  // The chart has drawn something besides the background.
  const inked = await page.evaluate(() => {
    const canvas = document.querySelector('#chart') as HTMLCanvasElement;
    const pixels =
      canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
    let count = 0;
    for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] ?? 0) > 0) count += 1;
    return count;
  });
  expect(inked).toBeGreaterThan(1_000);

  await publish([75], 'device-hot');
  await page.waitForFunction(
    () => document.querySelector('#alerts li.firing')?.textContent?.includes('device-hot'),
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.locator('#alerts li.firing').first().textContent()).toContain(
    'FIRING [warning] device-hot kwh = 75 (over 50)',
  );

  // The threshold is the alerting service's own (its rules, through /health), not the page's.
  expect(await page.locator('#threshold-label').textContent()).toBe('alerts at > 50');
  // The alerts list fills its panel: no blank area below a clipped list.
  const gap = await page.evaluate(() => {
    const panel = (document.querySelector('section.alerts') as HTMLElement).getBoundingClientRect();
    const list = (document.querySelector('#alerts') as HTMLElement).getBoundingClientRect();
    return panel.bottom - list.bottom;
  });
  expect(gap).toBeLessThan(40);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);

  // A silenced alert: in the history (the feed a page starts from), marked, whatever the live stream carried.
  const silence = await fetch(`${base}/silences`, {
    method: 'POST',
    headers: { authorization: 'Bearer dash', 'content-type': 'application/json' },
    body: JSON.stringify({
      device: 'device-muted',
      until: new Date(Date.now() + 600_000).toISOString(),
      reason: 'maintenance',
      author: 'test',
    }),
  });
  expect(silence.status).toBe(201);
  await publish([80], 'device-muted');
  await waitFor(
    async () =>
      ((await (await fetch(`${base}/alerts?deviceId=device-muted`)).json()) as { alerts: unknown[] }).alerts.length ===
      1,
    { what: 'the silenced alert recorded' },
  );
  await page.reload();
  await page.waitForFunction(
    () => document.querySelector('#alerts')?.textContent?.includes('device-muted'),
    undefined,
    { timeout: 15_000 },
  );
  const feed = await page.locator('#alerts li').allTextContents();
  expect(feed.filter((line) => line.includes('device-muted'))).toEqual([
    expect.stringContaining('FIRING [warning] device-muted kwh = 80 (over 50) · silenced'),
  ]);
  // From the history and the live stream's replay, each alert once.
  expect(feed.filter((line) => line.includes('device-hot'))).toHaveLength(1);

  await mkdir(join(root, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard.png'), fullPage: true });
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
}, 60_000);

it('browses history: a range picker over /stats’s series, its bucket following the range, of all devices or one', async () => {
  // The first test's 22 readings stored (its page saw 20; under load the store hop may lag the rest).
  await waitFor(
    async () => ((await (await fetch(`${base}/readings/latest?limit=200`)).json()) as unknown[]).length >= 22,
    { what: 'the first test stored' },
  );
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const asked: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/stats?') && request.url().includes('deviceLimit=')) asked.push(request.url());
  });
  await page.goto(base);
  await page.waitForFunction(
    () => document.querySelector('#history')?.getAttribute('aria-label')?.includes('minute buckets'),
    undefined,
    { timeout: 15_000 },
  );
  await page.getByRole('button', { name: '7 d' }).click();
  // A week in hours: 169 buckets (168 when the week starts on the hour).
  // The readings published by the first test are in this week, in at least one bucket (the page
  // refreshes its history every 10 s: a first answer may come from before the last were stored).
  await page.waitForFunction(
    () => {
      const label = document.querySelector('#history')?.getAttribute('aria-label') ?? '';
      return /^History, 16[89] hour buckets/.test(label) && Number(/, (\d+) readings/.exec(label)?.[1]) >= 22;
    },
    undefined,
    { timeout: 25_000 },
  );
  expect(await page.getByRole('button', { name: '7 d' }).getAttribute('aria-pressed')).toBe('true');
  expect(await page.getByRole('button', { name: '15 min' }).getAttribute('aria-pressed')).toBe('false');
  expect(asked.some((url) => decodeURIComponent(url).includes('from='))).toBe(true);
  // One device: the picker offers the range's devices; its ten readings alone.
  await page.getByRole('combobox', { name: 'Device', exact: true }).selectOption('device-a');
  await page.waitForFunction(
    () =>
      /^History of device-a, 16[89] hour buckets: [12] with readings, 10 readings/.test(
        document.querySelector('#history')?.getAttribute('aria-label') ?? '',
      ),
    undefined,
    { timeout: 15_000 },
  );
  expect(asked.some((url) => url.includes('deviceId=device-a'))).toBe(true);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  await page.close();
}, 60_000);

/** axe's serious and critical findings on the page as it is now: rule, and where. */
async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: Bun.resolveSync('axe-core/axe.min.js', import.meta.dir) });
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected above
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return result.violations as Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

it('on a narrow screen fits without sideways scrolling; on a second visit counts only what is stored now, not the replay', async () => {
  // Readings stored more than 5 s ago: the stream replays them on connecting.
  await publish([21, 22, 23, 24, 25], 'device-c');
  await waitFor(
    async () => ((await (await fetch(`${base}/readings/latest?limit=200`)).json()) as unknown[]).length >= 25,
    { what: 'stored' },
  );
  await Bun.sleep(6_500);
  const page = await browser.newPage({ viewport: { width: 360, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${base}/?threshold=60`);
  await page.waitForFunction(() => document.querySelectorAll('#readings tr').length >= 25, undefined, {
    timeout: 15_000,
  });
  await page.waitForFunction(
    () => document.querySelector('#threshold-label')?.textContent?.startsWith('alerts at'),
    undefined,
    { timeout: 15_000 },
  );
  // ?threshold= is no setting: the line and the marks are where alerts fire.
  expect(await page.locator('#threshold-label').textContent()).toBe('alerts at > 50');
  expect(await page.locator('#rate').textContent()).toBe('0');
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
  expect(await page.locator('#chart').getAttribute('aria-label')).toContain('device-c 25 kWh');
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  expect(errors).toEqual([]);
}, 60_000);

it('with READ_TOKEN set, asks for the token, then shows the live feeds and the health details', async () => {
  const port = await freePort();
  const guarded = `http://127.0.0.1:${port}`;
  services.push(
    startService(join(root, 'api/src/index.ts'), {
      REDIS_URL: server.url,
      API_TOKEN: 'dash',
      READ_TOKEN: 'let-me-read',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'guarded.db'),
      LOG_LEVEL: 'warn',
    }),
  );
  await waitFor(
    () =>
      fetch(`${guarded}/health`).then(
        (r) => r.status < 500,
        () => false,
      ),
    { what: 'guarded API' },
  );
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(guarded);
  await page.waitForSelector('#token-form:not([hidden])', { timeout: 15_000 });
  expect(await page.locator('#health-detail').textContent()).not.toContain('consumer-store');
  await page.fill('#token-input', 'let-me-read');
  await page.click('#token-form button');
  await page.waitForFunction(() => document.querySelector('#connection')?.textContent === 'live', undefined, {
    timeout: 15_000,
  });
  await page.waitForFunction(
    () => document.querySelector('#health-detail')?.textContent?.includes('consumer-store'),
    undefined,
    { timeout: 15_000 },
  );
  expect(errors).toEqual([]);
}, 60_000);

it('lists alerts newest first by their time, each once, though the live stream replays older ones than the history page holds', async () => {
  // 60 transitions a second apart, in the past: the history page holds the newest 50, the live
  // stream's replay all 60 — ten older than anything shown, which must not come out on top.
  const first = Date.now() - 75_000;
  const readings = Array.from({ length: 60 }, (_, i) => ({
    id: newEventId(first + i * 1_000),
    deviceId: 'device-flap',
    metric: 'kwh',
    value: i % 2 === 0 ? 60 : 40,
    unit: 'kWh',
    ts: first + i * 1_000,
  }));
  for (const reading of readings) await redis.xadd('readings', '*', ...encodeReading(reading));
  const recorded = async () =>
    ((await (await fetch(`${base}/alerts?deviceId=device-flap&limit=100`)).json()) as { alerts: unknown[] }).alerts
      .length;
  await waitFor(async () => (await recorded()) === 60, { what: '60 alerts recorded' });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(base);
  await page.waitForFunction(() => document.querySelector('#alerts')?.textContent?.includes('device-flap'), undefined, {
    timeout: 15_000,
  });
  // One more, live: once it is shown, the replay before it on the stream has been taken in too.
  const latest = { id: newEventId(), deviceId: 'device-flap', metric: 'kwh', value: 61, unit: 'kWh', ts: Date.now() };
  await redis.xadd('readings', '*', ...encodeReading(latest));
  await page.waitForFunction(
    () => document.querySelector('#alerts li')?.textContent?.includes('device-flap kwh = 61'),
    undefined,
    { timeout: 15_000 },
  );
  const time = (ts: number) => new Date(ts).toISOString().slice(11, 19);
  const expected = [
    `${time(latest.ts)} FIRING`,
    ...readings.reverse().map((reading) => `${time(reading.ts)} ${reading.value > 50 ? 'FIRING' : 'RESOLVED'}`),
  ];
  const shown = (await page.locator('#alerts li').allTextContents())
    .filter((line) => line.includes('device-flap'))
    .map((line) => line.split(' ').slice(0, 2).join(' '));
  expect(shown.length).toBeGreaterThanOrEqual(40);
  expect(shown).toEqual(expected.slice(0, shown.length));
  await page.close();
}, 60_000);

it('shows one metric at a time, as picked: its unit on the axes, a time axis, and a bucket’s values under the pointer', async () => {
  // Two metrics in two units: kWh, and °C on a device of its own.
  await publish([30], 'meter-1');
  // One time for the three: one minute bucket, whenever the test runs.
  const ts = Date.now();
  for (const value of [21.5, 22, 22.5])
    await redis.xadd(
      'readings',
      '*',
      ...encodeReading({ id: newEventId(), deviceId: 'pump-7', metric: 'temp', value, unit: '°C', ts }),
    );
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(base);
  const picker = page.getByRole('combobox', { name: 'Metric' });
  await page.waitForFunction(
    () => [...document.querySelectorAll('#metric option')].map((option) => option.textContent).includes('temp'),
    undefined,
    { timeout: 15_000 },
  );
  expect(await picker.locator('option').allTextContents()).toEqual(expect.arrayContaining(['kwh', 'temp']));
  await picker.selectOption('temp');
  // The live chart: pump-7 in °C alone, no kWh device beside it.
  await page.waitForFunction(
    () => document.querySelector('#chart')?.getAttribute('aria-label')?.includes('pump-7 22.5 °C'),
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.locator('#chart').getAttribute('aria-label')).not.toContain('kWh');
  // Under the pointer on the live chart: the reading there, with its unit and time.
  const chartBox = (await page.locator('#chart').boundingBox()) as { width: number; height: number };
  const highest = await page.evaluate(() => {
    // biome-ignore lint/suspicious/noExplicitAny: the page's own state, a global of its script
    const drawn = (window as any).eval('drawnChart') as {
      x(t: number): number;
      y(v: number): number;
      series: Map<string, Array<{ t: number; v: number }>>;
    };
    const point = drawn.series.get('pump-7')?.find((p) => p.v === 22.5) as { t: number; v: number };
    return { x: drawn.x(point.t), y: drawn.y(point.v) };
  });
  await page
    .locator('#chart')
    .hover({ position: { x: (highest.x / 900) * chartBox.width, y: (highest.y / 320) * chartBox.height } });
  await page.waitForFunction(
    () => document.querySelector('#chart-hover')?.textContent?.startsWith('pump-7: 22.5 °C at '),
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.locator('#chart-hover').textContent()).toMatch(/^pump-7: 22\.5 °C at \d\d:\d\d:\d\d\.\d{3} UTC$/);
  // The history: temp's values with its unit, from the first bucket's time to the last's.
  await page.waitForFunction(
    () =>
      /values from 21\.5 to 22\.5 °C; \d\d:\d\d to \d\d:\d\d UTC$/.test(
        document.querySelector('#history')?.getAttribute('aria-label') ?? '',
      ),
    undefined,
    { timeout: 15_000 },
  );
  // Under the pointer, the readings' bucket: its time, values and count, with the unit. Found by
  // its count, not as the last: the minute may have turned since, drawing an empty bucket after it.
  const box = (await page.locator('#history').boundingBox()) as { width: number; height: number };
  const lastBucketX = await page.evaluate(() => {
    const canvas = document.querySelector('#history') as HTMLCanvasElement;
    // biome-ignore lint/suspicious/noExplicitAny: the page's own state, a global of its script
    const drawn = (window as any).eval('drawnHistory') as {
      points: Array<{ count: number }>;
      left: number;
      right: number;
    };
    const index = drawn.points.findLastIndex((point) => point.count > 0);
    return drawn.left + ((index + 0.5) / drawn.points.length) * (canvas.width - drawn.left - drawn.right);
  });
  await page.locator('#history').hover({ position: { x: (lastBucketX / 900) * box.width, y: box.height / 3 } });
  await page.waitForFunction(
    () => document.querySelector('#history-hover')?.textContent?.includes('3 readings'),
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.locator('#history-hover').textContent()).toMatch(
    /^\d\d:\d\d UTC \(minute\): mean 22 °C, 21\.5–22\.5 °C, 3 readings$/,
  );
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard-metric.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

it('lists the devices with their status and newest values, and a device’s page with its metrics and what fires on it', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await publish([20], 'device-listed');
  await publish([90], 'device-listed-hot');
  await page.goto(base);
  await page.locator('#devices-glob').fill('device-listed*');
  await page.waitForFunction(
    () =>
      document.querySelectorAll('#devices tr').length === 2 &&
      document.querySelector('#devices')?.textContent?.includes('kwh 90 kWh'),
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.locator('#devices tr').allTextContents()).toEqual([
    expect.stringMatching(/^device-listedonline\d{4}-\d\d-\d\d \d\d:\d\d:\d\dkwh 20 kWh$/),
    expect.stringMatching(/^device-listed-hotonline.*kwh 90 kWh$/),
  ]);
  await page.locator('#devices a', { hasText: 'device-listed-hot' }).click();
  await page.waitForFunction(
    () => document.querySelector('#device-firing')?.textContent?.includes('rule default'),
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.locator('#device-name').textContent()).toBe('device-listed-hot');
  expect(await page.locator('#device-metrics tr').allTextContents()).toEqual([
    expect.stringMatching(/^kwh90kWh\d{4}-/),
  ]);
  expect(await page.locator('#device-firing').textContent()).toContain('warning · rule default · kwh = 90 since');
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  await page.screenshot({ path: join(root, 'test-artifacts', 'dashboard-devices.png'), fullPage: true });
  await page.locator('#device-close').click();
  expect(await page.locator('#device-page').isHidden()).toBe(true);
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);
