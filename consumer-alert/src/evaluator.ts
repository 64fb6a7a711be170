import { ALERT_VERSION, type ConsumerEntry, type Reading, createLatencyHistogram, newEventId } from 'core';
import type Redis from 'ioredis';
import type { Rule } from './rules.ts';

/**
 * Readings against rules' states, atomically: the states and the alert XADDs change together,
 * so any number of instances, and redelivered readings, never fire a transition twice. A reading
 * older than the state's last one (or the same one again) changes nothing. One script call
 * evaluates a whole chunk of (reading, rule) pairs: per-pair calls cost ~2× the CPU.
 *
 * State: one hash per rule (`<alerts stream>:state:<ruleId>`), one field per device, the value
 * `state,streak,lastTs,notifiedTs,lastReadingId`. A chunk reads its states with one HMGET per
 * rule and writes them back with one HSET per rule: two Redis calls per chunk and rule instead
 * of two per pair, which was most of the script's time.
 *
 * KEYS: alerts stream, then the state hash of each rule.
 * ARGV: version, alert id prefix, then per rule 5 values (ruleId, threshold, severity,
 * forReadings, repeatAfterMs), then per pair 7 values (rule number, readingId, ts, flags, deviceId,
 * metric, value), flags = 1 when the value breaches, + 2 when it clears. An alert's id is made only
 * when it fires: the call's prefix + the pair number.
 * Returns per pair: 'firing', 'resolved', 'repeat', '' (no transition) or 'stale' (ignored).
 */
const EVALUATE = `
local ruleCount = #KEYS - 1
local firstPair = 3 + ruleCount * 5
local pairCount = (#ARGV - firstPair + 1) / 7
-- Per rule: the devices of this chunk, their states as read, and what changed.
local fieldsByRule, states, changed = {}, {}, {}
for rule = 1, ruleCount do fieldsByRule[rule] = {}; states[rule] = {}; changed[rule] = {} end
for pair = 1, pairCount do
  local a = firstPair + (pair - 1) * 7
  local rule, device = tonumber(ARGV[a]), ARGV[a + 4]
  if states[rule][device] == nil then
    states[rule][device] = false
    table.insert(fieldsByRule[rule], device)
  end
end
for rule = 1, ruleCount do
  local fields = fieldsByRule[rule]
  if #fields > 0 then
    local values = redis.call('HMGET', KEYS[rule + 1], unpack(fields))
    for i, device in ipairs(fields) do
      local packed = values[i]
      if packed then
        local s, streak, lastTs, notifiedTs, lastReadingId = string.match(packed, '^(%a+),(%d+),(%d+),(%d+),(.*)$')
        states[rule][device] = { s, tonumber(streak), tonumber(lastTs), tonumber(notifiedTs), lastReadingId }
      end
    end
  end
end
local transitions = {}
for pair = 1, pairCount do
  local a = firstPair + (pair - 1) * 7
  local rule = tonumber(ARGV[a])
  local r = 3 + (rule - 1) * 5
  local readingId, tsText, flags, device = ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
  local ts = tonumber(tsText)
  local state = states[rule][device] or { 'ok', 0, nil, 0, '' }
  local transition = ''
  if state[3] and (ts < state[3] or (ts == state[3] and readingId == state[5])) then
    transition = 'stale'
  else
    local breach = flags % 2 == 1
    local streak = 0
    if breach then streak = state[2] + 1 end
    local current = state[1]
    if current ~= 'firing' then
      if breach and streak >= tonumber(ARGV[r + 3]) then transition = 'firing' end
    elseif flags >= 2 then
      transition = 'resolved'
    elseif breach and tonumber(ARGV[r + 4]) > 0 and ts - state[4] >= tonumber(ARGV[r + 4]) then
      transition = 'repeat'
    end
    local nextState, notifiedTs = current, state[4]
    if transition == 'firing' or transition == 'repeat' then nextState = 'firing' end
    if transition == 'resolved' then nextState = 'ok' end
    if transition ~= '' then
      notifiedTs = ts
      local alertState = 'firing'
      if transition == 'resolved' then alertState = 'resolved' end
      redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', ARGV[2] .. pair, 'ruleId', ARGV[r], 'deviceId', device, 'metric', ARGV[a + 5],
        'value', ARGV[a + 6], 'threshold', ARGV[r + 1], 'state', alertState, 'severity', ARGV[r + 2], 'ts', tsText, 'readingId', readingId)
    end
    states[rule][device] = { nextState, streak, ts, notifiedTs, readingId }
    changed[rule][device] = true
  end
  transitions[pair] = transition
end
for rule = 1, ruleCount do
  local args = {}
  for device in pairs(changed[rule]) do
    local st = states[rule][device]
    table.insert(args, device)
    table.insert(args, st[1] .. ',' .. st[2] .. ',' .. string.format('%d', st[3]) .. ',' .. string.format('%d', st[4]) .. ',' .. st[5])
  end
  if #args > 0 then redis.call('HSET', KEYS[rule + 1], unpack(args)) end
end
return transitions
`;

/** Pairs per script call: long enough to amortise the call, short enough not to stall Redis (~ms). */
const PAIRS_PER_CALL = 500;

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
  const ruleNumber = new Map(rules.map((rule, index) => [rule, index + 1]));
  const stateKeys = rules.map((rule) => `${alertsStream}:state:${rule.id}`);
  const ruleTable = rules.flatMap((rule) => [rule.id, String(rule.threshold), rule.severity, rule.forReadings, rule.repeatAfterMs]);
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
        // A fresh prefix per call keeps alert ids unique: `<uuidv7>.<pair>`.
        const args: Array<string | number> = [ALERT_VERSION, `${newEventId()}.`, ...ruleTable];
        for (const { reading, rule } of chunk) {
          const flags = (rule.breaches(reading.value) ? 1 : 0) + (rule.clears(reading.value) ? 2 : 0);
          args.push(ruleNumber.get(rule) as number, reading.id, reading.ts, flags, reading.deviceId, reading.metric, String(reading.value));
        }
        calls.push(redis.evaluateAlerts(stateKeys.length + 1, alertsStream, ...stateKeys, ...args));
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
