/**
 * `bun run --cwd bench chunks`: what the compressed chunk codec (api/src/storage/chunks) makes of
 * a fleet's history — bytes per reading, part by part, for chunks of an hour, a day and a week of
 * one device and metric, and encode and decode speed (readings/s, CPU µs a reading) — on three
 * kinds of values:
 * - `fleet`: the history bench's rows (whole numbers, ids made at `ts`, stored at `ts`);
 * - `sensor`: a device every ~2 minutes (±10%), a slow wave in hundredths, stored 20–60 ms later;
 * - `random`: any double (the worst case for the values; ids and times as `sensor`).
 * Flags: --devices N (100), --days D (30), --per-day R (720: every 2 minutes).
 */
import { type ChunkReading, SECTIONS, chunkParts, decodeChunk, encodeChunk } from 'api/src/storage/chunks/codec.ts';
import { cliNumber, newEventId, parseCli } from 'core';

const { values } = parseCli({
  name: 'chunks',
  usage: 'Usage: bun run --cwd bench chunks [--devices N] [--days D] [--per-day R]',
  options: {
    devices: { type: 'string', default: '100' },
    days: { type: 'string', default: '30' },
    'per-day': { type: 'string', default: '720' },
  },
});
const devices = cliNumber('chunks', 'devices', values.devices, { min: 1, integer: true });
const days = cliNumber('chunks', 'days', values.days, { min: 1, integer: true });
const perDay = cliNumber('chunks', 'per-day', values['per-day'], { min: 1, integer: true });

const DAY = 86_400_000;
const start = Date.UTC(2026, 0, 1);
const SHAPES = ['fleet', 'sensor', 'random'] as const;
const PERIODS = [
  ['hour', DAY / 24],
  ['day', DAY],
  ['week', 7 * DAY],
] as const;

/** One device's readings over the days, oldest first. */
function series(shape: (typeof SHAPES)[number], device: number): ChunkReading[] {
  const gap = DAY / perDay;
  const readings: ChunkReading[] = [];
  let ts = start + Math.floor(Math.random() * gap);
  const phase = Math.random() * 1_000;
  for (let i = 0; ts < start + days * DAY; i++) {
    if (shape === 'fleet') {
      const n = device + i * 1_000;
      readings.push({ id: newEventId(ts), value: n % 91, unit: 'kWh', ts, storedAt: ts });
      ts += Math.round(gap);
      continue;
    }
    const value =
      shape === 'sensor'
        ? Math.round((20 + 5 * Math.sin((phase + i) / 90) + Math.random()) * 100) / 100
        : Math.random() * 100;
    readings.push({ id: newEventId(ts), value, unit: '°C', ts, storedAt: ts + 20 + Math.floor(Math.random() * 40) });
    ts += Math.round(gap * (0.9 + 0.2 * Math.random()));
  }
  return readings;
}

/** Cuts a device's series into chunks of `periodMs` (aligned to the epoch). */
function chunksOf(readings: ChunkReading[], periodMs: number): ChunkReading[][] {
  const chunks = new Map<number, ChunkReading[]>();
  for (const reading of readings) {
    const key = Math.floor(reading.ts / periodMs);
    let chunk = chunks.get(key);
    if (!chunk) chunks.set(key, (chunk = []));
    chunk.push(reading);
  }
  return [...chunks.values()];
}

const cpuMicros = (before: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(before);
  return used.user + used.system;
};

console.log(
  `chunk codec: ${devices} devices × ${days} days × ${perDay} readings a day (${(devices * days * perDay).toLocaleString('en-US')} readings a shape)\n`,
);
console.log(
  `| values | chunk | readings/chunk | bytes/reading | ${SECTIONS.join(' | ')} | framing | encode /s (µs CPU) | decode /s (µs CPU) |`,
);
console.log(`|---|---|---|---|${SECTIONS.map(() => '---|').join('')}---|---|---|`);
for (const shape of SHAPES) {
  const all = Array.from({ length: devices }, (_, device) => series(shape, device));
  for (const [name, periodMs] of PERIODS) {
    const chunks = all.flatMap((readings) => chunksOf(readings, periodMs));
    const count = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    let cpu = process.cpuUsage();
    let began = performance.now();
    const encoded = chunks.map(encodeChunk);
    const encodeSeconds = (performance.now() - began) / 1_000;
    const encodeCpu = cpuMicros(cpu) / count;
    cpu = process.cpuUsage();
    began = performance.now();
    let decoded = 0;
    for (const chunk of encoded) decoded += decodeChunk(chunk).length;
    const decodeSeconds = (performance.now() - began) / 1_000;
    const decodeCpu = cpuMicros(cpu) / count;
    if (decoded !== count) throw new Error(`decoded ${decoded} of ${count}`);
    const parts = Object.fromEntries([...SECTIONS, 'framing'].map((part) => [part, 0])) as Record<string, number>;
    for (const chunk of encoded)
      for (const [part, bytes] of Object.entries(chunkParts(chunk))) parts[part] = (parts[part] ?? 0) + bytes;
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    const per = (bytes: number) => (bytes / count).toFixed(2);
    console.log(
      `| ${shape} | ${name} | ${Math.round(count / chunks.length)} | **${per(total)}** | ${[...SECTIONS, 'framing'].map((part) => per(parts[part] ?? 0)).join(' | ')} | ${Math.round(count / encodeSeconds).toLocaleString('en-US')} (${encodeCpu.toFixed(2)}) | ${Math.round(count / decodeSeconds).toLocaleString('en-US')} (${decodeCpu.toFixed(2)}) |`,
    );
  }
}
