/**
 * `bun run --cwd bench threshold-script`: the threshold rule's evaluation script alone
 * (consumer-alert/src/lua/evaluate-alerts.lua) on a Redis of its own — calls of 500 (reading,
 * rule) pairs from 1,000 devices, ~2% over the threshold, one at a time: µs per pair, round trip
 * included, and beside it a script that only decodes the same pairs (the floor). Flags: --calls N
 * (400).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliNumber, createRedis, newEventId, parseCli } from 'core';
import { startRedisServer } from 'core/testing';

const { values } = parseCli({
  name: 'threshold-script',
  usage: 'Usage: bun run --cwd bench threshold-script [--calls N]',
  options: { calls: { type: 'string', default: '400' } },
});
const calls = cliNumber('threshold-script', 'calls', values.calls, { min: 1, integer: true });
const PAIRS = 500;
const lua = (name: string) => readFileSync(join(import.meta.dir, '../../consumer-alert/src/lua', name), 'utf8');
const DECODE_ONLY = `cjson.decode(ARGV[2]); local out = {}
for i, _ in ipairs(cjson.decode(ARGV[3])) do out[i] = '-' end
return table.concat(out)`;

const server = await startRedisServer({ cluster: false });
const redis = createRedis(server.url, { name: 'bench' });
try {
  const scripts = {
    evaluate: (await redis.script('LOAD', `${lua('threshold-state.lua')}\n${lua('evaluate-alerts.lua')}`)) as string,
    decodeOnly: (await redis.script('LOAD', DECODE_ONLY)) as string,
  };
  const rules = JSON.stringify([['default', '50', 'warning', 1, 0, 0, 0, 0]]);
  const spent = { evaluate: 0, decodeOnly: 0 };
  for (let call = 0; call < calls; call++) {
    const now = Date.now() + call;
    const pairs = Array.from({ length: PAIRS }, (_, i) => {
      const value = Math.floor(Math.random() * 52);
      // flags: 1 breaches (> 50), 2 clears
      return [
        1,
        value > 50 ? 1 : 2,
        String(now),
        `device-${i % 1_000}`,
        newEventId(),
        String(value),
        'kwh',
        String(now),
      ];
    });
    const chunk = JSON.stringify(pairs);
    for (const name of ['evaluate', 'decodeOnly'] as const) {
      const started = performance.now();
      await redis.evalsha(
        scripts[name],
        5,
        'alerts',
        'state',
        'acks',
        'firing',
        'raised',
        '3',
        rules,
        chunk,
        '86400000',
      );
      spent[name] += performance.now() - started;
    }
  }
  const perPair = (ms: number) => ((ms * 1_000) / (calls * PAIRS)).toFixed(2);
  console.log(
    `| the threshold script (${calls} calls of ${PAIRS} pairs) | ${perPair(spent.evaluate)} µs a pair | decoding the pairs alone: ${perPair(spent.decodeOnly)} µs |`,
  );
} finally {
  redis.disconnect();
  await server.stop();
}
