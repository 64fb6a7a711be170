// The live dashboard: Server-Sent Events for readings and alerts, /health and /stats polled.
// DOM and canvas updates are batched per animation frame, and every series and list is capped,
// so hundreds of readings a second do not freeze the tab.
'use strict';

const MAX_POINTS = 300;
const MAX_DEVICES_DRAWN = 12;
const MAX_ROWS = 50;
const MAX_ALERTS = 50;
const WINDOW_MS = 2 * 60 * 1000;

const $ = (id) => document.getElementById(id);

// The alerting service's active rules, as its heartbeat tells /health: the chart's threshold
// lines and the table's "over" marks are the ones alerts fire at, never a guess of the page's.
let rules = [];
const globMatches = (glob, value) => new RegExp(`^${glob.replace(/[.]/g, '\\.').replaceAll('*', '.*')}$`).test(value);
const ruleFor = (reading) =>
  rules.find((rule) => globMatches(rule.metric, reading.metric) && globMatches(rule.device, reading.deviceId));
const breaches = (reading) => {
  const rule = ruleFor(reading);
  return (
    rule !== undefined && (rule.direction === 'below' ? reading.value < rule.threshold : reading.value > rule.threshold)
  );
};

// Per metric: each device's recent points and newest reading, and the metric's unit. The charts
// show one metric at a time (the picker's): a line in °C and one in kWh share no axis.
const seriesByMetric = new Map();
const latestByMetric = new Map();
const units = new Map();
const metricSelect = $('metric');
const currentMetric = () => metricSelect.value;
const newRows = [];
// The alert feed, newest first by the reading's time (at most MAX_ALERTS), and whether it changed.
const feed = [];
let feedChanged = false;
// When the API stored each reading, on the API's clock: the rate counts what was stored in the
// last 5 s, not what arrived (on connecting, the stream replays the last 100 readings at once).
// The API's clock is read off the Date header of its answers (to the second).
const storedTimes = [];
let serverOffsetMs = 0;
let frameRequested = false;

function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(render);
}

function colour(index) {
  return `hsl(${(index * 137.5) % 360} 65% 42%)`;
}

/** The map under `key` in `maps`, made when missing. */
function mapOf(maps, key) {
  let map = maps.get(key);
  if (!map) {
    map = new Map();
    maps.set(key, map);
  }
  return map;
}

/** A metric seen for the first time joins the picker; the first one is shown until another is picked. */
function offerMetric(metric) {
  if (units.has(metric)) return;
  const option = document.createElement('option');
  option.value = metric;
  option.textContent = metric;
  metricSelect.append(option);
  if (metricSelect.options.length === 1) {
    metricSelect.value = metric;
    refreshHistory();
  }
}
metricSelect.addEventListener('change', () => {
  schedule();
  refreshHistory();
});

function onReading(reading) {
  offerMetric(reading.metric);
  units.set(reading.metric, reading.unit);
  mapOf(latestByMetric, reading.metric).set(reading.deviceId, reading);
  const t = Date.parse(reading.ts);
  const series = mapOf(seriesByMetric, reading.metric);
  let points = series.get(reading.deviceId);
  if (!points) {
    points = [];
    series.set(reading.deviceId, points);
  }
  points.push({ t, v: reading.value });
  if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
  newRows.push(reading);
  if (newRows.length > MAX_ROWS) newRows.splice(0, newRows.length - MAX_ROWS);
  const storedAt = Date.parse(reading.storedAt);
  if (Number.isFinite(storedAt)) storedTimes.push(storedAt);
  schedule();
}

// With READ_TOKEN set, every read but the page and /health needs the token: the page asks for it
// at the first 401 and keeps it for this tab's session only.
let readToken = sessionStorage.getItem('readToken') ?? '';
const authHeaders = () => (readToken ? { authorization: `Bearer ${readToken}` } : {});

function askForToken() {
  $('token-form').hidden = false;
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  readToken = $('token-input').value.trim();
  sessionStorage.setItem('readToken', readToken);
  $('token-form').hidden = true;
  refreshHealth();
  refreshPerMinute();
});

async function apiFetch(path) {
  const response = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  const serverDate = Date.parse(response.headers.get('date') ?? '');
  if (Number.isFinite(serverDate)) serverOffsetMs = serverDate + 500 - Date.now();
  if (response.status === 401) askForToken();
  return response;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One SSE message block (`id:`, `event:`, `data:`, `retry:` lines) as an object. */
function parseBlock(block) {
  const message = { id: null, event: 'message', data: '', retry: null };
  for (const line of block.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon <= 0) continue;
    const field = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (field === 'data') message.data += value;
    else if (field in message) message[field] = value;
  }
  return message;
}

/**
 * Server-Sent Events over fetch rather than EventSource, which cannot send the read token. It
 * reconnects by itself and resumes with Last-Event-ID, as EventSource would.
 */
async function stream(path, event, handler, onState = () => {}) {
  let lastEventId = null;
  let retryMs = 2000;
  for (;;) {
    try {
      const headers = { ...authHeaders(), accept: 'text/event-stream' };
      if (lastEventId !== null) headers['last-event-id'] = lastEventId;
      const response = await fetch(path, { headers, cache: 'no-store' });
      if (response.status === 401) askForToken();
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      onState('live');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const message = parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (message.id) lastEventId = message.id;
          if (message.retry) retryMs = Number(message.retry) || retryMs;
          if (message.event === event && message.data) handler(JSON.parse(message.data));
        }
      }
    } catch {
      // Dropped, refused or unreachable: try again after the server's retry interval.
    }
    onState('lost');
    await sleep(retryMs);
  }
}

stream('/readings/stream', 'reading', onReading, (state) =>
  setBadge($('connection'), state, state === 'live' ? 'live' : 'reconnecting…'),
);
// Alert ids seen, so that the history and the live stream's replay never show one twice.
const shownAlerts = new Set();
/** Newer first; the same time by id, so that every page orders a tie alike. */
const newerFirst = (a, b) =>
  new Date(b.ts).getTime() - new Date(a.ts).getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
/**
 * Puts an alert in the feed at its time, not on top: the live stream's replay holds alerts older
 * than the history's newest (and ones the history page did not reach), which must not read as new.
 */
function addAlert(alert) {
  if (shownAlerts.has(alert.id)) return;
  shownAlerts.add(alert.id);
  if (shownAlerts.size > MAX_ALERTS * 4) shownAlerts.delete(shownAlerts.values().next().value);
  let at = feed.findIndex((shown) => newerFirst(alert, shown) < 0);
  if (at === -1) at = feed.length;
  if (at >= MAX_ALERTS) return;
  feed.splice(at, 0, alert);
  if (feed.length > MAX_ALERTS) feed.pop();
  feedChanged = true;
  schedule();
}

// The feed starts from the alert history (the database keeps every transition, silenced ones
// marked), then follows the live stream.
async function followAlerts() {
  try {
    const response = await fetch(`/alerts?limit=${MAX_ALERTS}`, { headers: authHeaders(), cache: 'no-store' });
    if (response.ok) for (const alert of (await response.json()).alerts.reverse()) addAlert(alert);
  } catch {
    // No history (an older API, or unreachable): the live stream's replay still fills the feed.
  }
  stream('/alerts/stream', 'alert', addAlert);
}
followAlerts();

function setBadge(element, state, text) {
  element.dataset.state = state;
  element.textContent = text;
}

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) element.className = className;
  return element;
}

function render() {
  frameRequested = false;
  drawChart();
  flushRows();
  flushAlerts();
  const serverNow = Date.now() + serverOffsetMs;
  storedTimes.sort((a, b) => a - b);
  while (storedTimes.length > 0 && storedTimes[0] < serverNow - 5000) storedTimes.shift();
  $('rate').textContent = String(Math.round(storedTimes.length / 5));
}

function flushRows() {
  if (newRows.length === 0) return;
  const body = $('readings');
  const fragment = document.createDocumentFragment();
  for (const reading of newRows.splice(0).reverse()) {
    const row = document.createElement('tr');
    if (breaches(reading)) row.className = 'over';
    row.append(
      text('td', reading.ts.slice(11, 23)),
      text('td', reading.deviceId),
      text('td', reading.metric),
      text('td', String(reading.value), 'num'),
      text('td', reading.unit),
    );
    fragment.append(row);
  }
  body.prepend(fragment);
  while (body.children.length > MAX_ROWS) body.lastElementChild.remove();
}

function flushAlerts() {
  if (!feedChanged) return;
  feedChanged = false;
  const list = $('alerts');
  const fragment = document.createDocumentFragment();
  for (const alert of feed) {
    const verb = alert.state === 'firing' ? 'over' : 'back from';
    // Absence alerts have no value: the device went quiet, or reports again.
    const condition =
      alert.value == null
        ? alert.state === 'firing'
          ? 'silent'
          : 'reporting again'
        : `= ${alert.value} (${verb} ${alert.threshold})`;
    const marks = `${alert.silenced ? ' · silenced' : ''}${alert.quiet ? ' · quiet' : ''}${alert.note ? ` · ${alert.note}` : ''}${alert.ackedBy ? ` · acknowledged by ${alert.ackedBy}` : ''}`;
    fragment.append(
      text(
        'li',
        `${new Date(alert.ts).toISOString().slice(11, 19)} ${alert.state.toUpperCase()} [${alert.severity}] ${alert.deviceId} ${alert.metric} ${condition}${marks}`,
        `${alert.state} ${alert.severity}`,
      ),
    );
  }
  list.replaceChildren(fragment);
}

function drawChart() {
  const canvas = $('chart');
  const context = canvas.getContext('2d');
  const { width, height } = canvas;
  // Room at the top for the unit above the axis numbers.
  const pad = { left: 44, right: 10, top: 24, bottom: 24 };
  context.clearRect(0, 0, width, height);
  const now = Date.now();
  const from = now - WINDOW_MS;
  const series = seriesByMetric.get(currentMetric()) ?? new Map();
  const unit = units.get(currentMetric()) ?? '';
  const devices = [...series.keys()].sort().slice(0, MAX_DEVICES_DRAWN);
  const lines = thresholdLines();
  let low = Math.min(Infinity, ...lines);
  let high = Math.max(-Infinity, ...lines);
  for (const device of devices)
    for (const p of series.get(device))
      if (p.t >= from) {
        low = Math.min(low, p.v);
        high = Math.max(high, p.v);
      }
  if (!Number.isFinite(low)) [low, high] = [0, 100];
  const { ticks, step } = niceTicks(low, high);
  low = Math.min(low, ticks[0]);
  high = Math.max(high, ticks[ticks.length - 1]);
  const x = (t) => pad.left + ((t - from) / WINDOW_MS) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - low) / (high - low)) * (height - pad.top - pad.bottom);
  drawnChart = { x, y, from, series, devices, unit };

  context.font = '11px system-ui, sans-serif';
  context.fillStyle = '#656d76';
  context.strokeStyle = '#eaeef2';
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (const v of ticks) {
    context.beginPath();
    context.moveTo(pad.left, y(v));
    context.lineTo(width - pad.right, y(v));
    context.stroke();
    context.fillText(v.toFixed(decimals), 4, y(v) + 4);
  }
  if (unit) context.fillText(unit, 4, 12);
  context.fillText('−2 min', pad.left, height - 6);
  context.fillText('−1 min', (pad.left + width - pad.right) / 2 - 16, height - 6);
  context.fillText('now', width - pad.right - 22, height - 6);

  devices.forEach((device, index) => {
    const points = series.get(device).filter((p) => p.t >= from);
    if (points.length === 0) return;
    context.strokeStyle = colour(index);
    context.lineWidth = 1.5;
    context.beginPath();
    points.forEach((p, i) => (i === 0 ? context.moveTo(x(p.t), y(p.v)) : context.lineTo(x(p.t), y(p.v))));
    context.stroke();
  });

  context.strokeStyle = '#cf222e';
  context.setLineDash([6, 4]);
  context.lineWidth = 1.5;
  for (const line of lines) {
    context.beginPath();
    context.moveTo(pad.left, y(line));
    context.lineTo(width - pad.right, y(line));
    context.stroke();
  }
  context.setLineDash([]);
  describeChart(devices);

  const legend = $('legend');
  if (legend.dataset.devices !== devices.join(',')) {
    legend.dataset.devices = devices.join(',');
    legend.replaceChildren(
      ...devices.map((device, index) => {
        const item = text('span', device);
        const swatch = document.createElement('i');
        swatch.style.background = colour(index);
        item.prepend(swatch);
        return item;
      }),
    );
  }
}

/** What the live chart drew, for the reading under the pointer. */
let drawnChart;

/** The drawn reading nearest the pointer: device, value with its unit, and time. */
$('chart').addEventListener('mousemove', (event) => {
  if (!drawnChart) return;
  const canvas = $('chart');
  const box = canvas.getBoundingClientRect();
  const px = ((event.clientX - box.left) / box.width) * canvas.width;
  const py = ((event.clientY - box.top) / box.height) * canvas.height;
  let nearest;
  for (const device of drawnChart.devices) {
    for (const p of drawnChart.series.get(device) ?? []) {
      if (p.t < drawnChart.from) continue;
      const distance = Math.hypot(drawnChart.x(p.t) - px, drawnChart.y(p.v) - py);
      if (!nearest || distance < nearest.distance) nearest = { device, p, distance };
    }
  }
  if (!nearest || nearest.distance > 40) return;
  const unit = drawnChart.unit ? ` ${drawnChart.unit}` : '';
  $('chart-hover').textContent =
    `${nearest.device}: ${nearest.p.v}${unit} at ${new Date(nearest.p.t).toISOString().slice(11, 23)} UTC`;
});

/** Thresholds of the rules for every device of the metric on the chart. */
function thresholdLines() {
  const metric = currentMetric();
  return metric
    ? [
        ...new Set(
          rules.filter((rule) => rule.device === '*' && globMatches(rule.metric, metric)).map((rule) => rule.threshold),
        ),
      ]
    : [];
}

/** About five round ticks (1, 2 or 5 × 10^k apart) covering [low, high]. */
function niceTicks(low, high) {
  const span = high - low || Math.abs(high) || 1;
  const rough = span / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough);
  const first = Math.floor(low / step) * step;
  const ticks = [];
  for (let v = first; v <= high + step / 2 && ticks.length < 12; v += step) ticks.push(Number(v.toFixed(10)));
  if (ticks.length < 2) ticks.push(first + step);
  return { ticks, step };
}

/** The chart's text alternative: each device's newest value, and the threshold lines. */
function describeChart(devices) {
  const latest = latestByMetric.get(currentMetric()) ?? new Map();
  const parts = devices.map((device) => {
    const reading = latest.get(device);
    return reading ? `${device} ${reading.value} ${reading.unit}` : device;
  });
  const lines = thresholdLines();
  const label = `Recent values per device${currentMetric() ? ` of ${currentMetric()}` : ''}, last 2 minutes: ${parts.join(', ') || 'no readings yet'}${lines.length > 0 ? `; alert threshold ${lines.join(', ')}` : ''}`;
  const canvas = $('chart');
  if (canvas.getAttribute('aria-label') !== label) canvas.setAttribute('aria-label', label);
}

async function refreshHealth() {
  try {
    const health = await (await apiFetch('/health')).json();
    setBadge($('health'), health.status, `health: ${health.status}`);
    const detail = document.createElement('div');
    if (health.reasons.length > 0) {
      const reasons = document.createElement('ul');
      reasons.className = 'reasons';
      for (const reason of health.reasons) reasons.append(text('li', reason));
      detail.append(reasons);
    }
    const table = document.createElement('table');
    table.className = 'health-table';
    const row = (...cells) => {
      const tr = document.createElement('tr');
      for (const cell of cells) tr.append(text('td', String(cell)));
      table.append(tr);
    };
    // Without the read token (when one is set) /health says only its status and reasons.
    for (const worker of health.workers ?? [])
      row(
        `${worker.service} ${worker.instance}`,
        worker.status === 'alive' ? 'alive' : `silent ${Math.round(worker.lastSeenSecondsAgo)} s`,
      );
    for (const group of health.groups ?? [])
      row(`${group.group} (${group.stream})`, `lag ${group.lag ?? '?'} · pending ${group.pending}`);
    for (const dead of health.deadLetters ?? []) row(dead.stream, `${dead.entries} dead`);
    detail.append(table);
    $('health-detail').replaceChildren(detail);
    const alerting = (health.workers ?? []).find(
      (worker) => worker.service === 'consumer-alert' && worker.status === 'alive' && worker.info?.rules,
    );
    // Threshold rules draw lines and mark values; other kinds judge aggregates, rates or silence.
    if (alerting) rules = alerting.info.rules.filter((rule) => (rule.kind ?? 'threshold') === 'threshold');
    const thresholds = [...new Set(rules.map((rule) => `${rule.direction === 'below' ? '<' : '>'} ${rule.threshold}`))];
    $('threshold-label').textContent =
      thresholds.length > 0 ? `alerts at ${thresholds.join(', ')}` : 'no alerting service reporting its rules';
  } catch {
    setBadge($('health'), 'down', 'health: API unreachable');
  }
}

async function refreshPerMinute() {
  try {
    const from = new Date(Date.now() - 15 * 60 * 1000).toISOString();
    const response = await apiFetch(`/stats?from=${encodeURIComponent(from)}&deviceLimit=1`);
    if (!response.ok) return;
    const stats = await response.json();
    const canvas = $('per-minute');
    const context = canvas.getContext('2d');
    const minutes = stats.readingsPerMinute.slice(-15);
    const most = Math.max(1, ...minutes.map((m) => m.count));
    context.clearRect(0, 0, canvas.width, canvas.height);
    const barWidth = canvas.width / 15;
    context.fillStyle = '#4c78a8';
    minutes.forEach((minute, i) => {
      const h = (minute.count / most) * (canvas.height - 16);
      context.fillRect(i * barWidth + 2, canvas.height - h, barWidth - 4, h);
    });
    context.fillStyle = '#656d76';
    context.font = '11px system-ui, sans-serif';
    context.fillText(`max ${most}/min`, 4, 11);
    canvas.setAttribute(
      'aria-label',
      `Readings per minute, last 15 minutes: ${minutes.map((minute) => minute.count).join(', ') || 'none'} (max ${most})`,
    );
  } catch {
    // The next refresh tries again.
  }
}

// History over a chosen range, from /stats's series (its bucket follows the range: minutes up
// to a day, hours beyond; read from rollups, so 30 days cost what 15 minutes do): the mean as a
// line in a min–max band, readings per bucket as bars — of all devices, or of the one picked.
let historyRangeMs = 15 * 60 * 1000;
const historyDevice = $('history-device');
async function refreshHistory() {
  try {
    const to = Date.now() + serverOffsetMs;
    const from = new Date(to - historyRangeMs).toISOString();
    const device = historyDevice.value;
    const metric = currentMetric();
    const only = `${device ? `&deviceId=${encodeURIComponent(device)}` : ''}${metric ? `&metric=${encodeURIComponent(metric)}` : ''}`;
    // The picker offers the devices of the range (the first 100, by name), and keeps the one picked.
    const response = await apiFetch(
      `/stats?from=${encodeURIComponent(from)}&to=${encodeURIComponent(new Date(to).toISOString())}&deviceLimit=${device ? 0 : 100}${only}`,
    );
    if (!response.ok) return;
    const stats = await response.json();
    if (!device) offerDevices(stats.perDevice.map((row) => row.deviceId));
    drawHistory(stats.series, device, units.get(metric) ?? '');
  } catch {
    // The next refresh tries again.
  }
}

function offerDevices(devices) {
  const known = new Set([...historyDevice.options].map((option) => option.value));
  for (const device of devices) {
    if (known.has(device)) continue;
    const option = document.createElement('option');
    option.value = device;
    option.textContent = device;
    historyDevice.append(option);
  }
}

historyDevice.addEventListener('change', () => refreshHistory());

/** What the history chart drew, for the values under the pointer. */
let drawnHistory;

/** A bucket's start as a label for its size: 14:05 for minutes, 12-06 14:00 for hours, 2026-12-06 for days (UTC). */
function bucketLabel(iso, bucket) {
  if (bucket === 'minute') return iso.slice(11, 16);
  if (bucket === 'hour') return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(0, 10);
}

function drawHistory(series, device, unit) {
  const canvas = $('history');
  const context = canvas.getContext('2d');
  const { width, height } = canvas;
  // Below the plot: the time axis, then readings per bucket as bars.
  const pad = { left: 44, right: 10, top: 12, bottom: 52 };
  const barsHeight = 24;
  context.clearRect(0, 0, width, height);
  const points = series.points;
  drawnHistory = { points, bucket: series.bucket, unit, left: pad.left, right: pad.right };
  const filled = points.filter((p) => p.count > 0);
  const label = `History${device ? ` of ${device}` : ''}, ${points.length} ${series.bucket} buckets: ${filled.length} with readings, ${points.reduce((sum, p) => sum + p.count, 0)} readings`;
  if (filled.length === 0) {
    context.fillStyle = '#656d76';
    context.font = '12px system-ui, sans-serif';
    context.fillText('no readings in this range', pad.left, pad.top + 20);
    canvas.setAttribute('aria-label', label);
    return;
  }
  const low = Math.min(...filled.map((p) => p.min));
  const high = Math.max(...filled.map((p) => p.max));
  const span = high - low || 1;
  const plotBottom = height - pad.bottom;
  const x = (i) => pad.left + ((i + 0.5) / points.length) * (width - pad.left - pad.right);
  const y = (v) => plotBottom - ((v - low) / span) * (plotBottom - pad.top);
  // The band and the line break where a bucket has no readings: a gap is drawn as a gap.
  context.fillStyle = 'rgba(76, 120, 168, 0.2)';
  context.strokeStyle = '#4c78a8';
  context.lineWidth = 1.5;
  const runs = [];
  let run = [];
  for (const [i, p] of points.entries()) {
    if (p.count > 0) run.push(i);
    else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  for (const indexes of runs) {
    context.beginPath();
    indexes.forEach((i, k) =>
      k === 0 ? context.moveTo(x(i), y(points[i].max)) : context.lineTo(x(i), y(points[i].max)),
    );
    [...indexes].reverse().forEach((i) => context.lineTo(x(i), y(points[i].min)));
    context.closePath();
    context.fill();
    context.beginPath();
    indexes.forEach((i, k) =>
      k === 0 ? context.moveTo(x(i), y(points[i].mean)) : context.lineTo(x(i), y(points[i].mean)),
    );
    if (indexes.length === 1) context.arc(x(indexes[0]), y(points[indexes[0]].mean), 2, 0, 2 * Math.PI);
    context.stroke();
  }
  // Readings per bucket, under the chart.
  const most = Math.max(...points.map((p) => p.count));
  const barWidth = Math.max(1, (width - pad.left - pad.right) / points.length - 1);
  context.fillStyle = '#9aa4ae';
  points.forEach((p, i) => {
    const h = (p.count / most) * barsHeight;
    context.fillRect(x(i) - barWidth / 2, height - 4 - h, barWidth, h);
  });
  context.fillStyle = '#656d76';
  context.font = '11px system-ui, sans-serif';
  context.fillText(`${high}${unit ? ` ${unit}` : ''}`, 4, pad.top + 8);
  context.fillText(`${low}${unit ? ` ${unit}` : ''}`, 4, plotBottom);
  context.fillText(`${most}/${series.bucket}`, 4, height - 6);
  // The time axis (UTC): the first bucket, the middle one and the last.
  const marks = [0, Math.floor((points.length - 1) / 2), points.length - 1];
  marks.forEach((i, k) => {
    const mark = `${bucketLabel(points[i].start, series.bucket)}${k === 2 ? ' UTC' : ''}`;
    const markWidth = context.measureText(mark).width;
    const at = k === 0 ? x(i) - barWidth / 2 : k === 2 ? width - pad.right - markWidth : x(i) - markWidth / 2;
    context.fillText(mark, Math.max(pad.left, at), plotBottom + 14);
  });
  canvas.setAttribute(
    'aria-label',
    `${label}; values from ${low} to ${high}${unit ? ` ${unit}` : ''}; ${bucketLabel(points[0].start, series.bucket)} to ${bucketLabel(points[points.length - 1].start, series.bucket)} UTC`,
  );
}

/** The bucket under the pointer: its time, mean, min–max and count, with the unit. */
$('history').addEventListener('mousemove', (event) => {
  if (!drawnHistory || drawnHistory.points.length === 0) return;
  const canvas = $('history');
  const box = canvas.getBoundingClientRect();
  const px = ((event.clientX - box.left) / box.width) * canvas.width;
  const { points, bucket, unit, left, right } = drawnHistory;
  const i = Math.floor(((px - left) / (canvas.width - left - right)) * points.length);
  const p = points[i];
  if (!p) return;
  const when = `${bucketLabel(p.start, bucket)} UTC (${bucket})`;
  const u = unit ? ` ${unit}` : '';
  $('history-hover').textContent =
    p.count > 0
      ? `${when}: mean ${Number(p.mean.toFixed(3))}${u}, ${p.min}–${p.max}${u}, ${p.count} readings`
      : `${when}: no readings`;
});

for (const button of document.querySelectorAll('.ranges button')) {
  button.addEventListener('click', () => {
    historyRangeMs = Number(button.dataset.range);
    for (const other of document.querySelectorAll('.ranges button'))
      other.setAttribute('aria-pressed', String(other === button));
    refreshHistory();
  });
}

refreshHealth();
refreshPerMinute();
refreshHistory();
// Devices: the first page of /devices (filtered), and one device's page when its link is followed (#device=<id>).
const DEVICES_PAGE = 100;

const clock = (iso) => iso.replace('T', ' ').slice(0, 19);

function deviceRow(device) {
  const row = document.createElement('tr');
  if (device.status === 'offline') row.className = 'over';
  const name = document.createElement('td');
  const link = text('a', device.deviceId);
  link.href = `#device=${encodeURIComponent(device.deviceId)}`;
  name.append(link);
  const status = device.silentBy.length > 0 ? `silent (${device.silentBy.join(', ')})` : device.status;
  const metrics = device.metrics.map((m) => `${m.metric} ${m.value} ${m.unit}`).join(' · ');
  row.append(name, text('td', status), text('td', clock(device.lastSeen)), text('td', metrics));
  return row;
}

async function refreshDevices() {
  const query = new URLSearchParams({ limit: String(DEVICES_PAGE) });
  const glob = $('devices-glob').value.trim();
  if (glob && $('devices-glob').checkValidity()) query.set('device', glob);
  if ($('devices-status').value) query.set('status', $('devices-status').value);
  try {
    const response = await apiFetch(`/devices?${query}`);
    if (!response.ok) {
      $('devices-summary').textContent =
        response.status === 503 ? 'kept in Redis, which is away' : `HTTP ${response.status}`;
      return;
    }
    const page = await response.json();
    $('devices').replaceChildren(...page.devices.map(deviceRow));
    const offline = page.devices.filter((device) => device.status === 'offline').length;
    $('devices-summary').textContent =
      `${page.devices.length}${page.nextCursor ? '+' : ''} shown, ${offline} offline` +
      (page.nextCursor ? ` — narrow with a glob to see the rest` : '');
  } catch {
    $('devices-summary').textContent = 'API unreachable';
  }
}

async function showDevice() {
  const match = /^#device=(.+)$/.exec(location.hash);
  $('device-page').hidden = !match;
  if (!match) return;
  const id = decodeURIComponent(match[1]);
  $('device-name').textContent = id;
  const response = await apiFetch(`/devices/${encodeURIComponent(id)}`);
  if (!response.ok) {
    $('device-seen').textContent =
      response.status === 404 ? 'not known (never reported, or deleted)' : `HTTP ${response.status}`;
    $('device-metrics').replaceChildren();
    $('device-firing').replaceChildren();
    return;
  }
  const device = await response.json();
  $('device-seen').textContent =
    `${device.status}${device.silentBy.length ? ` — silent by ${device.silentBy.join(', ')}` : ''} · first seen ` +
    `${clock(device.firstSeen)} · last seen ${clock(device.lastSeen)}` +
    (device.metricsNotListed ? ` · ${device.metricsNotListed} more metrics not listed` : '');
  $('device-metrics').replaceChildren(
    ...device.metrics.map((m) => {
      const row = document.createElement('tr');
      row.append(text('td', m.metric), text('td', String(m.value), 'num'), text('td', m.unit), text('td', clock(m.ts)));
      return row;
    }),
  );
  $('device-firing').replaceChildren(
    ...(device.firing.length === 0
      ? [text('li', 'nothing', 'muted')]
      : device.firing.map((alert) =>
          text(
            'li',
            `${alert.severity} · rule ${alert.ruleId} · ${alert.metric}${alert.value === null ? ' silent' : ` = ${alert.value}`} since ${clock(alert.ts)}`,
          ),
        )),
  );
}

$('devices-filter').addEventListener('input', refreshDevices);
$('devices-filter').addEventListener('submit', (event) => event.preventDefault());
$('device-close').addEventListener('click', (event) => {
  event.preventDefault();
  history.replaceState(null, '', location.pathname);
  showDevice();
});
window.addEventListener('hashchange', showDevice);
refreshDevices();
showDevice();
setInterval(refreshDevices, 5000);
setInterval(() => {
  if (location.hash.startsWith('#device=')) showDevice();
}, 5000);
setInterval(refreshHistory, 10000);
setInterval(refreshHealth, 3000);
setInterval(refreshPerMinute, 10000);
setInterval(schedule, 1000);
