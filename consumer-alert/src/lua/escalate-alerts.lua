--[=[
Escalation: a device still firing on a rule, and unacknowledged, `afterMs` after it fired is raised
again with the step's severity — each step once per firing, atomically with the record of it.

KEYS[1]  the alerts stream
KEYS[2]  the firings followed (evaluate-alerts.lua): sorted set `<rule>|<device>` → when it fired
KEYS[3]  the steps raised: hash `<rule>|<device>` → step
KEYS[4]  the acknowledgements (core's alert-acks.ts)
KEYS[5]  the rule's state hash (threshold-state.lua's codec, put before this script)
KEYS[6]  the evaluator lease (with ARGV[4]), when instances share the evaluation
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, threshold, [[afterMs, severity], ...]] (afterMs ascending)
ARGV[3]  members at most per step and call
ARGV[4]  the lease token this instance holds; "!" is returned when the lease is not its

The alert: the firing's metric, value and reading (from the state), the step's severity, a note
("escalated to critical: firing 10 min, unacknowledged"), dated now; its id the SHA-1 of rule,
device, when it fired and the step. A device no longer firing leaves the followed set, as does
one past its last step. Returns how many alerts were raised.
]=]
if KEYS[6] and redis.call('GET', KEYS[6]) ~= ARGV[4] then return '!' end
local rule = cjson.decode(ARGV[2])
local steps = rule[3]
local prefix = rule[1] .. '|'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local raised = 0
for step = #steps, 1, -1 do
  local afterMs, severity = tonumber(steps[step][1]), steps[step][2]
  local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - afterMs, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
  for i = 1, #due, 2 do
    local member, firedAt = due[i], due[i + 1]
    if string.sub(member, 1, #prefix) == prefix then
      local device = string.sub(member, #prefix + 1)
      local packed = redis.call('HGET', KEYS[5], device)
      local state = packed and decodeState(packed)
      local done = tonumber(redis.call('HGET', KEYS[3], member) or '0')
      if not state or state.state ~= 'firing' then
        redis.call('ZREM', KEYS[2], member)
        redis.call('HDEL', KEYS[3], member)
      elseif done < step and redis.call('HEXISTS', KEYS[4], member) == 0 then
        local minutes = math.floor((now - tonumber(firedAt)) / 60000)
        redis.call('XADD', KEYS[1], '*', 'v', ARGV[1],
          'id', redis.sha1hex(member .. '|' .. firedAt .. '|escalate|' .. step),
          'ruleId', rule[1], 'deviceId', device, 'metric', state.metric ~= '' and state.metric or 'unknown',
          'value', state.value ~= '' and state.value or rule[2], 'threshold', rule[2], 'state', 'firing',
          'severity', severity, 'ts', string.format('%d', now),
          'readingId', state.readingId ~= '' and state.readingId or 'unknown',
          'note', 'escalated to ' .. severity .. ': firing ' .. minutes .. ' min, unacknowledged')
        redis.call('HSET', KEYS[3], member, step)
        raised = raised + 1
        if step == #steps then redis.call('ZREM', KEYS[2], member) end
      end
    end
  end
end
return raised
