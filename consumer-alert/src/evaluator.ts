import { ALERT_VERSION, type ConsumerEntry, type Reading, createLatencyHistogram, newEventId } from 'core';
import type Redis from 'ioredis';
import type { Rule } from './rules.ts';

/**
 * Readings against rules' states, atomically: the states and the alert XADDs change together,
 * so any number of instances, and redelivered readings, never fire a transition twice.
 *
 * State: one hash per rule (`<alerts stream>:state:<ruleId>`), one field per device, the value
 * `state,streak,lastTs,notifiedTs,lastReadingId`. A chunk reads its states with one HMGET per
 * rule and writes back only those that changed with one HSET per rule. A reading that changes
 * nothing (below the threshold while ok, above it while firing) is not written: evaluated again,
 * it changes nothing again. A reading older than the last change (or the one that made it) is
 * stale and ignored, so a redelivered or late reading never flips a state back.
 *
 * KEYS: alerts stream, then the state hash of each rule.
 * ARGV: version, alert id prefix, rules as JSON `[[ruleId, threshold, severity, forReadings,
 * repeatAfterMs], ...]`, pairs as JSON `[[rule number, flags, ts, deviceId, readingId, value,
 * metric], ...]` with flags = 1 when the value breaches, + 2 when it clears. Two JSON arguments
 * (decoded by Redis's C cjson) instead of 7 per pair: building, sending and interning thousands
 * of arguments was most of the evaluator's cost on both sides.
 * Returns one character per pair: f(iring), r(esolved), p (repeat), - (no transition), s(tale).
 */
const EVALUATE = `
local rules = cjson.decode(ARGV[3])
local pairList = cjson.decode(ARGV[4])
local states, fieldsByRule, changed = {}, {}, {}
for rule = 1, #rules do states[rule] = {}; fieldsByRule[rule] = {}; changed[rule] = {} end
for _, p in ipairs(pairList) do
  local rule, device = p[1], p[4]
  if states[rule][device] == nil then
    states[rule][device] = false
    fieldsByRule[rule][#fieldsByRule[rule] + 1] = device
  end
end
for rule = 1, #rules do
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
local out = {}
for pair, p in ipairs(pairList) do
  local rule, flags, tsText, device, readingId = p[1], p[2], p[3], p[4], p[5]
  local r = rules[rule]
  local ts = tonumber(tsText)
  local state = states[rule][device] or { 'ok', 0, nil, 0, '' }
  local current, streak = state[1], state[2]
  local transition = '-'
  if state[3] and (ts < state[3] or (ts == state[3] and readingId == state[5])) then
    transition = 's'
  else
    local breach = flags % 2 == 1
    local nextState, nextStreak, notifiedTs = current, streak, state[4]
    if current ~= 'firing' then
      if breach then nextStreak = streak + 1 else nextStreak = 0 end
      if breach and nextStreak >= r[4] then transition = 'f'; nextState = 'firing' end
    elseif flags >= 2 then
      transition = 'r'; nextState = 'ok'; nextStreak = 0
    elseif breach and r[5] > 0 and ts - notifiedTs >= r[5] then
      transition = 'p'
    end
    if transition ~= '-' then
      notifiedTs = ts
      local alertState = 'firing'
      if transition == 'r' then alertState = 'resolved' end
      redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', ARGV[2] .. pair, 'ruleId', r[1], 'deviceId', device, 'metric', p[7],
        'value', p[6], 'threshold', r[2], 'state', alertState, 'severity', r[3], 'ts', tsText, 'readingId', readingId)
    end
    if transition ~= '-' or nextStreak ~= streak then
      states[rule][device] = { nextState, nextStreak, ts, notifiedTs, readingId }
      changed[rule][device] = true
    end
  end
  out[pair] = transition
end
for rule = 1, #rules do
  local args = {}
  for device in pairs(changed[rule]) do
    local st = states[rule][device]
    args[#args + 1] = device
    args[#args + 1] = st[1] .. ',' .. st[2] .. ',' .. string.format('%d', st[3]) .. ',' .. string.format('%d', st[4]) .. ',' .. st[5]
  end
  if #args > 0 then redis.call('HSET', KEYS[rule + 1], unpack(args)) end
end
return table.concat(out)
`;

/** Pairs per script call: long enough to amortise the call, short enough not to stall Redis (~ms). */
const PAIRS_PER_CALL = 500;

type EvaluatingRedis = Redis & {
  evaluateAlerts(numberOfKeys: number, ...keysAndArgs: string[]): Promise<string>;
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
  const stateKeys = rules.map((rule) => `${alertsStream}:state:${rule.id}`);
  const ruleTable = JSON.stringify(rules.map((rule) => [rule.id, String(rule.threshold), rule.severity, rule.forReadings, rule.repeatAfterMs]));
  const detection = createLatencyHistogram();

  return {
    counters,
    detection,
    async handle(batch: ReadonlyArray<ConsumerEntry<Reading>>): Promise<void> {
      // One (reading, rule) pair per matching rule: the reading, and its tuple for the script.
      const pairs: Reading[] = [];
      const tuples: unknown[][] = [];
      for (const { value: reading } of batch) {
        rules.forEach((rule, index) => {
          if (!rule.matches(reading)) return;
          const flags = (rule.breaches(reading.value) ? 1 : 0) + (rule.clears(reading.value) ? 2 : 0);
          pairs.push(reading);
          tuples.push([index + 1, flags, String(reading.ts), reading.deviceId, reading.id, String(reading.value), reading.metric]);
        });
      }
      const calls: Array<Promise<string>> = [];
      for (let start = 0; start < tuples.length; start += PAIRS_PER_CALL) {
        const chunk = JSON.stringify(tuples.slice(start, start + PAIRS_PER_CALL));
        // A fresh prefix per call keeps alert ids unique: `<uuidv7>.<pair>`.
        calls.push(redis.evaluateAlerts(stateKeys.length + 1, alertsStream, ...stateKeys, ALERT_VERSION, `${newEventId()}.`, ruleTable, chunk));
      }
      const transitions = (await Promise.all(calls)).join('');
      const now = Date.now();
      for (let index = 0; index < transitions.length; index++) {
        const transition = transitions[index];
        counters.evaluated += 1;
        if (transition === 's') counters.stale += 1;
        else if (transition !== '-') {
          if (transition === 'f') counters.firing += 1;
          else if (transition === 'r') counters.resolved += 1;
          else counters.repeats += 1;
          detection.observe(now - (pairs[index] as Reading).ts);
        }
      }
    },
  };
}
