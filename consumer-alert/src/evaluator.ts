import { ALERT_VERSION, type ConsumerEntry, type Reading, createLatencyHistogram, newEventId } from 'core';
import type Redis from 'ioredis';
import type { Rule } from './rules.ts';

/**
 * Readings against rules' states, atomically: each state hash and its alert XADD change together,
 * so any number of instances, and redelivered readings, never fire a transition twice. A reading
 * older than the state's last one (or the same one again) changes nothing. One script call
 * evaluates a whole chunk of (reading, rule) pairs: per-pair calls cost ~2× the CPU.
 *
 * KEYS: alerts stream, then one state hash per pair. ARGV: version, then per pair 13 values:
 * readingId, ts, breach (1/0), clear (1/0), forReadings, repeatAfterMs, alertId, ruleId,
 * deviceId, metric, value, threshold, severity.
 * Returns per pair: 'firing', 'resolved', 'repeat', '' (no transition) or 'stale' (ignored).
 */
const EVALUATE = `
local transitions = {}
for pair = 1, #KEYS - 1 do
  local key = KEYS[pair + 1]
  local a = (pair - 1) * 13 + 1
  local readingId, tsText = ARGV[a + 1], ARGV[a + 2]
  local ts = tonumber(tsText)
  local state = redis.call('HMGET', key, 'state', 'streak', 'lastTs', 'lastReadingId', 'notifiedTs')
  local lastTs = tonumber(state[3])
  local transition = ''
  if lastTs and (ts < lastTs or (ts == lastTs and readingId == state[4])) then
    transition = 'stale'
  else
    local breach = ARGV[a + 3] == '1'
    local streak = 0
    if breach then streak = (tonumber(state[2]) or 0) + 1 end
    local current = state[1] or 'ok'
    if current ~= 'firing' then
      if breach and streak >= tonumber(ARGV[a + 5]) then transition = 'firing' end
    elseif ARGV[a + 4] == '1' then
      transition = 'resolved'
    elseif breach and tonumber(ARGV[a + 6]) > 0 and ts - (tonumber(state[5]) or 0) >= tonumber(ARGV[a + 6]) then
      transition = 'repeat'
    end
    local nextState = current
    if transition == 'firing' or transition == 'repeat' then nextState = 'firing' end
    if transition == 'resolved' then nextState = 'ok' end
    if transition ~= '' then
      redis.call('HSET', key, 'state', nextState, 'streak', streak, 'lastTs', tsText, 'lastReadingId', readingId, 'notifiedTs', tsText)
      local alertState = 'firing'
      if transition == 'resolved' then alertState = 'resolved' end
      redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', ARGV[a + 7], 'ruleId', ARGV[a + 8], 'deviceId', ARGV[a + 9], 'metric', ARGV[a + 10],
        'value', ARGV[a + 11], 'threshold', ARGV[a + 12], 'state', alertState, 'severity', ARGV[a + 13], 'ts', tsText, 'readingId', readingId)
    else
      redis.call('HSET', key, 'state', nextState, 'streak', streak, 'lastTs', tsText, 'lastReadingId', readingId)
    end
  end
  transitions[pair] = transition
end
return transitions
`;

/** Pairs per script call: long enough to amortise the call, short enough not to stall Redis (~ms). */
const PAIRS_PER_CALL = 250;

type EvaluatingRedis = Redis & {
  evaluateAlerts(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<string[]>;
};

export interface EvaluatorCounters {
  evaluated: number;
  firing: number;
  resolved: number;
  repeats: number;
  stale: number;
}

/**
 * The `alerts` group's handler: every reading against every rule that matches it, all in one
 * pipeline per batch. Returns nothing (all done) once Redis has applied them, so a reading is
 * acked only after its alerts are written. Detection latency: reading ts → alert written.
 */
export function createEvaluator(options: { redis: Redis; rules: readonly Rule[]; alertsStream: string }) {
  const { rules, alertsStream } = options;
  // EVALSHA under the hood: the script is sent once per connection, not per reading.
  if (!('evaluateAlerts' in options.redis)) options.redis.defineCommand('evaluateAlerts', { lua: EVALUATE });
  const redis = options.redis as EvaluatingRedis;
  const counters: EvaluatorCounters = { evaluated: 0, firing: 0, resolved: 0, repeats: 0, stale: 0 };
  const detection = createLatencyHistogram();

  return {
    counters,
    detection,
    async handle(batch: ReadonlyArray<ConsumerEntry<Reading>>): Promise<void> {
      const pairs: Array<{ reading: Reading; rule: Rule }> = [];
      for (const { value: reading } of batch) {
        for (const rule of rules) if (rule.matches(reading)) pairs.push({ reading, rule });
      }
      const calls: Array<Promise<string[]>> = [];
      for (let start = 0; start < pairs.length; start += PAIRS_PER_CALL) {
        const chunk = pairs.slice(start, start + PAIRS_PER_CALL);
        const keys = chunk.map(({ reading, rule }) => `${alertsStream}:state:${rule.id}:${reading.deviceId}`);
        const args: Array<string | number> = [ALERT_VERSION];
        for (const { reading, rule } of chunk) {
          args.push(
            reading.id,
            reading.ts,
            rule.breaches(reading.value) ? 1 : 0,
            rule.clears(reading.value) ? 1 : 0,
            rule.forReadings,
            rule.repeatAfterMs,
            newEventId(),
            rule.id,
            reading.deviceId,
            reading.metric,
            String(reading.value),
            String(rule.threshold),
            rule.severity,
          );
        }
        calls.push(redis.evaluateAlerts(keys.length + 1, alertsStream, ...keys, ...args));
      }
      const transitions = (await Promise.all(calls)).flat();
      const now = Date.now();
      transitions.forEach((transition, index) => {
        counters.evaluated += 1;
        if (transition === 'stale') counters.stale += 1;
        else if (transition) {
          if (transition === 'firing') counters.firing += 1;
          else if (transition === 'resolved') counters.resolved += 1;
          else counters.repeats += 1;
          detection.observe(now - (pairs[index] as { reading: Reading }).reading.ts);
        }
      });
    },
  };
}
