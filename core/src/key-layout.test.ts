import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { KEY_LAYOUT, KeyLayoutUpgradingError, upgradeKeyLayout } from './key-layout.ts';
import { alertKeys, importKeys, partitionStream, pipelineKeys, streamKeys } from './keys.ts';
import { partitionOf } from './partitions.ts';
import { createLogger } from './logger.ts';
import { createRedis } from './redis.ts';
import { type RedisServer, startRedisServer, uniqueName } from './testing/index.ts';

// Layout 1 put keys of several slots in one MULTI: it ran on one Redis only, as this one is.
let server: RedisServer;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedisServer({ appendOnly: false, cluster: false });
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server.stop();
});

const logged: Array<Record<string, unknown>> = [];
const logger = createLogger({
  service: 'test',
  level: 'info',
  pretty: false,
  write: (line) => void logged.push(JSON.parse(line)),
});

function connect(keyPrefix: string): Redis {
  const client = createRedis(server.url, { name: 'key-layout-test', keyPrefix });
  clients.push(client);
  return client;
}

/** A Redis as an earlier version left it: dead letters with a group's stream, alert state, an import. */
async function writeLayoutOne(redis: Redis, streams: { readingsStream: string; alertsStream: string }) {
  const { readingsStream: r, alertsStream: a } = streams;
  await redis.xadd(r, '*', 'v', '2', 'r', '[]');
  await redis.xgroup('CREATE', r, 'store', '0');
  await redis.xadd(`${r}:dead`, '*', 'reason', 'bad reading');
  await redis.hset(`${a}:state:hot`, 'pump-1', 'F,1,2');
  await redis.hset(`${a}:absence:quiet:newest`, 'pump-1', '1|id|kwh|1');
  await redis.zadd(`${a}:absence:quiet:watch`, 1, 'pump-1');
  await redis.hset(`${a}:acks`, 'hot|pump-1', '{}');
  await redis.zadd(`${a}:escalation:firing`, 1, 'hot|pump-1');
  await redis.hset(`${a}:devices`, 'pump-1', '{}');
  await redis.set(`${a}:rules`, '{"version":1}');
  await redis.hset('imports:job-1', 'id', 'job-1');
  await redis.zadd('imports', 1, 'job-1');
  await redis.zadd('imports:active', 1, 'job-1');
}

describe('upgradeKeyLayout', () => {
  for (const prefix of ['', 'tenant-a:']) {
    it(`renames what layout 1 named otherwise, once (KEY_PREFIX '${prefix}')`, async () => {
      const keyPrefix = prefix && uniqueName(prefix);
      const redis = connect(keyPrefix);
      const streams = { readingsStream: uniqueName('readings'), alertsStream: uniqueName('alerts') };
      await writeLayoutOne(redis, streams);
      const alerts = alertKeys(redis, streams.alertsStream);
      const dead = streamKeys(redis, streams.readingsStream).dead;
      const imports = importKeys();

      expect(await upgradeKeyLayout(redis, streams, logger)).toBe(10);
      expect((await redis.xrange(dead, '-', '+')).map(([, fields]) => fields)).toEqual([['reason', 'bad reading']]);
      expect(await redis.hgetall(alerts.thresholdState('hot'))).toEqual({ 'pump-1': 'F,1,2' });
      expect(await redis.zrange(alerts.absence('quiet').watch, '0', '-1')).toEqual(['pump-1']);
      expect(await redis.hgetall(alerts.absence('quiet').newest)).toEqual({ 'pump-1': '1|id|kwh|1' });
      expect(await redis.hkeys(alerts.acks)).toEqual(['hot|pump-1']);
      expect(await redis.zrange(alerts.escalation.firing, '0', '-1')).toEqual(['hot|pump-1']);
      expect(await redis.hkeys(alerts.devices.records)).toEqual(['pump-1']);
      expect(await redis.zrange(imports.all, '0', '-1')).toEqual(['job-1']);
      expect(await redis.zrange(imports.active, '0', '-1')).toEqual(['job-1']);
      expect(await redis.hget(imports.job('job-1'), 'id')).toBe('job-1');
      // Kept their names: the streams (devices XADD to them) and what is used alone.
      expect((await redis.xinfo('GROUPS', streams.readingsStream)) as unknown[]).toHaveLength(1);
      expect(await redis.get(alerts.rules)).toBe('{"version":1}');
      expect(await redis.exists(`${streams.readingsStream}:dead`, `${streams.alertsStream}:state:hot`, 'imports')).toBe(
        0,
      );
      expect(await redis.get(pipelineKeys.layout)).toBe(KEY_LAYOUT);

      // Recorded: the next start reads one key and goes on.
      await redis.hset(`${streams.alertsStream}:state:late`, 'pump-2', 'F,1,2');
      expect(await upgradeKeyLayout(redis, streams, logger)).toBe(0);
      await redis.del(pipelineKeys.layout);
    });
  }

  it("from layout 2 with partitions, moves each device's alert state beside its partition, once", async () => {
    const redis = connect(uniqueName('split'));
    const streams = { readingsStream: 'readings', alertsStream: 'alerts', streamPartitions: 4 };
    const base = alertKeys(redis, 'alerts');
    const devices = Array.from({ length: 40 }, (_, index) => `pump-${index}`);
    const partitionOfDevice = (device: string) => partitionOf(device, 4);
    for (const device of devices) {
      await redis.hset(base.thresholdState('hot'), device, 'F,1,2');
      await redis.hset(base.rateState('jumps'), `${device}|kwh`, 'F,1,2');
      await redis.zadd(base.absence('quiet').watch, 7, device);
      await redis.hset(base.acks, `hot|${device}`, '{}');
      await redis.zadd(base.escalation.firing, 9, `hot|${device}`);
      await redis.hset(base.devices.records, device, '{}');
      await redis.zadd(base.devices.index, 0, device);
    }
    await redis.hset(base.rulesKnown, 'hot', '{}');
    await redis.set(pipelineKeys.layout, '2');

    expect(await upgradeKeyLayout(redis, streams, logger)).toBe(
      7 * devices.filter((device) => partitionOfDevice(device) !== 0).length,
    );
    for (const partition of [0, 1, 2, 3]) {
      const keys = alertKeys(redis, partitionStream('alerts', partition));
      const mine = devices.filter((device) => partitionOfDevice(device) === partition).sort();
      expect(mine.length).toBeGreaterThan(0);
      expect(Object.keys(await redis.hgetall(keys.thresholdState('hot'))).sort()).toEqual(mine);
      expect(Object.keys(await redis.hgetall(keys.rateState('jumps'))).sort()).toEqual(
        mine.map((d) => `${d}|kwh`).sort(),
      );
      expect((await redis.zrange(keys.absence('quiet').watch, '0', '-1')).sort()).toEqual(mine);
      // Scores go with their members.
      expect(await redis.zscore(keys.absence('quiet').watch, mine[0] as string)).toBe('7');
      expect(Object.keys(await redis.hgetall(keys.acks)).sort()).toEqual(mine.map((d) => `hot|${d}`).sort());
      expect((await redis.zrange(keys.escalation.firing, '0', '-1')).sort()).toEqual(
        mine.map((d) => `hot|${d}`).sort(),
      );
      expect(Object.keys(await redis.hgetall(keys.devices.records)).sort()).toEqual(mine);
      expect((await redis.zrange(keys.devices.index, '0', '-1')).sort()).toEqual(mine);
      expect(await redis.hgetall(keys.rulesKnown)).toEqual({ hot: '{}' });
    }
    expect(await redis.get(pipelineKeys.layout)).toBe(KEY_LAYOUT);
    expect(await upgradeKeyLayout(redis, streams, logger)).toBe(0);
  });

  it('one service upgrades at a time: another is told to wait', async () => {
    const redis = connect(uniqueName('locked'));
    await redis.set(pipelineKeys.layoutUpgrade, 'someone else', 'PX', 10_000);
    const streams = { readingsStream: 'readings', alertsStream: 'alerts' };
    await expect(upgradeKeyLayout(redis, streams, logger)).rejects.toBeInstanceOf(KeyLayoutUpgradingError);
    await redis.del(pipelineKeys.layoutUpgrade);
    expect(await upgradeKeyLayout(redis, streams, logger)).toBe(0);
    expect(await redis.get(pipelineKeys.layout)).toBe(KEY_LAYOUT);
  });

  it('leaves a key found under both names, and says so', async () => {
    const redis = connect(uniqueName('both'));
    const streams = { readingsStream: uniqueName('readings'), alertsStream: uniqueName('alerts') };
    const dead = streamKeys(redis, streams.readingsStream).dead;
    await redis.xadd(`${streams.readingsStream}:dead`, '*', 'reason', 'old');
    await redis.xadd(dead, '*', 'reason', 'new');
    logged.length = 0;

    expect(await upgradeKeyLayout(redis, streams, logger)).toBe(0);
    expect(await redis.xlen(`${streams.readingsStream}:dead`)).toBe(1);
    expect(await redis.xlen(dead)).toBe(1);
    expect(logged).toContainEqual(
      expect.objectContaining({ event: 'key_layout_both_names', key: `${streams.readingsStream}:dead`, now: dead }),
    );
  });

  it('on a Redis Cluster, where a rename across slots is refused, copies each key whole', async () => {
    const cluster = await startRedisServer({ appendOnly: false });
    const redis = createRedis(cluster.url, { name: 'key-layout-cluster' });
    try {
      const streams = { readingsStream: 'readings', alertsStream: 'alerts' };
      await redis.xadd('readings:dead', '*', 'reason', 'bad reading');
      await redis.xgroup('CREATE', 'readings:dead', 'readers', '0');
      await redis.hset('alerts:state:hot', 'pump-1', 'F,1,2');

      expect(await upgradeKeyLayout(redis, streams, logger)).toBe(2);
      const dead = streamKeys(redis, 'readings').dead;
      expect((await redis.xrange(dead, '-', '+')).map(([, fields]) => fields)).toEqual([['reason', 'bad reading']]);
      expect((await redis.xinfo('GROUPS', dead)) as unknown[]).toHaveLength(1);
      expect(await redis.hgetall(alertKeys(redis, 'alerts').thresholdState('hot'))).toEqual({ 'pump-1': 'F,1,2' });
      expect(await redis.exists('readings:dead')).toBe(0);
      expect(await redis.exists('alerts:state:hot')).toBe(0);
    } finally {
      redis.disconnect();
      await cluster.stop();
    }
  });
});
