/**
 * `bun run --cwd bench key-layout`: how long the key-layout upgrade of a partitioned pipeline
 * takes (layout 2 → 3: each device's alert state moved beside its partition, core's
 * alert-state-split.ts) — on a Redis of its own, a fleet whose state is two threshold rules, the
 * device registry (record and index) and an absence rule's watch and newest readings, six keys a
 * device. Flags: --devices N (100,000), --partitions P (8).
 */
import { alertKeys, cliNumber, createLogger, createRedis, parseCli, pipelineKeys, upgradeKeyLayout } from 'core';
import { startRedisServer } from 'core/testing';

const { values } = parseCli({
  name: 'key-layout',
  usage: 'Usage: bun run --cwd bench key-layout [--devices N] [--partitions P]',
  options: { devices: { type: 'string', default: '100000' }, partitions: { type: 'string', default: '8' } },
});
const devices = cliNumber('key-layout', 'devices', values.devices, { min: 1, integer: true });
const partitions = cliNumber('key-layout', 'partitions', values.partitions, { min: 2, max: 256, integer: true });

const server = await startRedisServer({ cluster: false, appendOnly: false });
const redis = createRedis(server.url, { name: 'key-layout-bench' });
try {
  const base = alertKeys(redis, 'alerts');
  for (let start = 0; start < devices; start += 5_000) {
    const pipeline = redis.pipeline();
    for (let index = start; index < Math.min(devices, start + 5_000); index++) {
      const device = `device-${index}`;
      pipeline
        .hset(base.thresholdState('hot'), device, 'F,1,2')
        .hset(base.thresholdState('cold'), device, 'O,1,2')
        .hset(base.devices.records, device, '{"f":1,"l":2,"m":[["kwh",1,"kWh",1,1,"id"]]}')
        .zadd(base.devices.index, 0, device)
        .zadd(base.absence('quiet').watch, 7, device)
        .hset(base.absence('quiet').newest, device, '1|id|kwh|1');
    }
    await pipeline.exec();
  }
  // As a partitioned pipeline of the version before left it.
  await redis.set(pipelineKeys.layout, '2');
  const logger = createLogger({ service: 'bench', level: 'error', pretty: false, write: () => {} });
  const started = performance.now();
  const moved = await upgradeKeyLayout(
    redis,
    { readingsStream: 'readings', alertsStream: 'alerts', streamPartitions: partitions },
    logger,
  );
  const seconds = (performance.now() - started) / 1_000;
  console.log(
    `${devices.toLocaleString('en')} devices × 6 keys, ${partitions} partitions: ${moved.toLocaleString('en')} fields and members moved in ${seconds.toFixed(1)} s (${Math.round(moved / seconds).toLocaleString('en')}/s)`,
  );
} finally {
  redis.disconnect();
  await server.stop();
}
