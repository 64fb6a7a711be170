import { ALERT_VERSION, type ConsumerEntry, type Reading, createLatencyHistogram, newEventId } from 'core';
import type Redis from 'ioredis';
import type { Rule } from './rules.ts';

/**
 * One reading against one rule's state, atomically: the state hash and the alert XADD change
 * together, so any number of instances, and redelivered readings, never fire a transition twice.
 * A reading older than the state's last one (or the same one again) changes nothing.
 *
 * KEYS: state hash, alerts stream. ARGV: readingId, ts, breach (1/0), clear (1/0), forReadings,
 * repeatAfterMs, alertId, ruleId, deviceId, metric, value, threshold, severity, version.
 * Returns the transition: 'firing', 'resolved', 'repeat', or '' for none ('stale' when ignored).
 */
const EVALUATE = `
local state = redis.call('HMGET', KEYS[1], 'state', 'streak', 'lastTs', 'lastReadingId', 'notifiedTs')
local ts = tonumber(ARGV[2])
local lastTs = tonumber(state[3])
if lastTs and (ts < lastTs or (ts == lastTs and ARGV[1] == state[4])) then return 'stale' end
local breach = ARGV[3] == '1'
local streak = 0
if breach then streak = (tonumber(state[2]) or 0) + 1 end
local current = state[1] or 'ok'
local transition = ''
if current ~= 'firing' then
  if breach and streak >= tonumber(ARGV[5]) then transition = 'firing' end
elseif ARGV[4] == '1' then
  transition = 'resolved'
elseif breach and tonumber(ARGV[6]) > 0 and ts - (tonumber(state[5]) or 0) >= tonumber(ARGV[6]) then
  transition = 'repeat'
end
local nextState = current
if transition == 'firing' or transition == 'repeat' then nextState = 'firing' end
if transition == 'resolved' then nextState = 'ok' end
redis.call('HSET', KEYS[1], 'state', nextState, 'streak', streak, 'lastTs', ARGV[2], 'lastReadingId', ARGV[1])
if transition ~= '' then
  redis.call('HSET', KEYS[1], 'notifiedTs', ARGV[2])
  local alertState = 'firing'
  if transition == 'resolved' then alertState = 'resolved' end
  redis.call('XADD', KEYS[2], '*', 'v', ARGV[14], 'id', ARGV[7], 'ruleId', ARGV[8], 'deviceId', ARGV[9], 'metric', ARGV[10],
    'value', ARGV[11], 'threshold', ARGV[12], 'state', alertState, 'severity', ARGV[13], 'ts', ARGV[2], 'readingId', ARGV[1])
end
return transition
`;

type EvaluatingRedis = Redis & {
  evaluateAlert(stateKey: string, alertsStream: string, ...args: Array<string | number>): Promise<string>;
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
  if (!('evaluateAlert' in options.redis)) options.redis.defineCommand('evaluateAlert', { numberOfKeys: 2, lua: EVALUATE });
  const redis = options.redis as EvaluatingRedis;
  const counters: EvaluatorCounters = { evaluated: 0, firing: 0, resolved: 0, repeats: 0, stale: 0 };
  const detection = createLatencyHistogram();

  return {
    counters,
    detection,
    async handle(batch: ReadonlyArray<ConsumerEntry<Reading>>): Promise<void> {
      const pipeline = redis.pipeline() as ReturnType<Redis['pipeline']> & {
        evaluateAlert(stateKey: string, alertsStream: string, ...args: Array<string | number>): unknown;
      };
      const evaluated: Reading[] = [];
      for (const { value: reading } of batch) {
        for (const rule of rules) {
          if (!rule.matches(reading)) continue;
          evaluated.push(reading);
          pipeline.evaluateAlert(
            `${alertsStream}:state:${rule.id}:${reading.deviceId}`,
            alertsStream,
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
            ALERT_VERSION,
          );
        }
      }
      if (evaluated.length === 0) return;
      const results = (await pipeline.exec()) ?? [];
      const now = Date.now();
      results.forEach(([error, transition], index) => {
        if (error) throw error;
        counters.evaluated += 1;
        if (transition === 'stale') counters.stale += 1;
        else if (transition) {
          if (transition === 'firing') counters.firing += 1;
          else if (transition === 'resolved') counters.resolved += 1;
          else counters.repeats += 1;
          detection.observe(now - (evaluated[index] as Reading).ts);
        }
      });
    },
  };
}
