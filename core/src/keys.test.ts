import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import Redis from 'ioredis';
import { alertKeys, hasHashTag, importKeys, partitionStream, pipelineKeys, streamKeys } from './keys.ts';
import { type TestRedis, useRedis } from './testing/index.ts';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await useRedis();
  redis = new Redis(server.url, { lazyConnect: true });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** The slot a Redis Cluster puts a key in, as stored (KEY_PREFIX before it), asked of a real one. */
const slotOf = async (stored: string) => Number(await redis.call('CLUSTER', 'KEYSLOT', stored));
const clientWith = (keyPrefix: string) => ({ options: { keyPrefix } });

describe('keys used together share a slot, whatever the KEY_PREFIX', () => {
  for (const prefix of ['', 'tenant-a:', '{tenant-b}:']) {
    it(`prefix '${prefix}'`, async () => {
      const client = clientWith(prefix);
      const readings = streamKeys(client, 'readings');
      const alerts = alertKeys(client, 'alerts');
      const absence = alerts.absence('quiet');
      const imports = importKeys();
      const together = [
        ['readings', readings.dead],
        [
          'alerts',
          alerts.dead,
          alerts.evaluatorLease,
          alerts.acks,
          alerts.escalation.firing,
          alerts.escalation.raised,
          alerts.devices.records,
          alerts.devices.index,
          alerts.thresholdState('hot'),
          alerts.rateState('jumps'),
          alerts.windowState('means'),
          absence.watch,
          absence.newest,
          absence.silent,
          absence.reminders,
        ],
        [imports.all, imports.active, imports.job('019a5e2c')],
        [pipelineKeys.workers, pipelineKeys.heartbeat('api:host-1')],
      ];
      for (const keys of together) {
        const slots = new Set(await Promise.all(keys.map((key) => slotOf(`${prefix}${key}`))));
        expect({ keys, slots: slots.size }).toEqual({ keys, slots: 1 });
      }
    });
  }

  it("each partition's alert state shares its partition of the alerts stream's slot, not partition 0's", async () => {
    const client = clientWith('');
    const partitionSlots = await Promise.all(
      [0, 1, 2, 3].map(async (partition) => {
        const stream = partitionStream('alerts', partition);
        const keys = alertKeys(client, stream);
        const slots = new Set(
          await Promise.all(
            [
              stream,
              keys.dead,
              keys.evaluatorLease,
              keys.acks,
              keys.escalation.firing,
              keys.devices.records,
              keys.thresholdState('hot'),
              keys.rateState('jumps'),
              keys.absence('quiet').watch,
            ].map(slotOf),
          ),
        );
        expect(slots.size).toBe(1);
        return [...slots][0];
      }),
    );
    expect(new Set(partitionSlots).size).toBe(4);
  });

  it('keys used alone keep their own slot (without a tagged prefix)', async () => {
    const client = clientWith('');
    const alerts = alertKeys(client, 'alerts');
    const slots = await Promise.all(
      ['alerts', 'readings', alerts.rules, alerts.silences, streamKeys(client, 'readings').conflicts].map(slotOf),
    );
    expect(new Set(slots).size).toBe(slots.length);
  });
});

describe('names', () => {
  it('streams keep the names devices XADD to; their side keys are tagged with the prefixed name', () => {
    expect(streamKeys(clientWith(''), 'readings')).toMatchObject({ stream: 'readings', dead: '{readings}:dead' });
    expect(streamKeys(clientWith('p:'), 'readings').dead).toBe('{p:readings}:dead');
    // A tag in the prefix decides the slot already: no second one.
    expect(streamKeys(clientWith('{t}:'), 'readings').dead).toBe('readings:dead');
  });

  it('hasHashTag follows Redis: the first { and the first } after it, with something between', () => {
    expect(hasHashTag('{a}b')).toBe(true);
    expect(hasHashTag('x{a}')).toBe(true);
    expect(hasHashTag('{}a')).toBe(false);
    expect(hasHashTag('a}{')).toBe(false);
    expect(hasHashTag('plain')).toBe(false);
  });
});
