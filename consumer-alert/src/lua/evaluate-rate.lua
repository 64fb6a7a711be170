--[[
Rate rules: each reading against the device's previous reading of the same metric, atomically
with the state, so a reading evaluated again (a redelivery, a failover) fires nothing twice.

KEYS[1]  the alerts stream
KEYS[2]  the rule's state hash: member (`device|metric`) → `state,order,value` of the newest reading
KEYS[3]  the evaluator lease, when instances share the evaluation (with ARGV[4])
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, severity, perSecond, direction (rising|falling|either)]
ARGV[3]  readings as JSON: [[member, deviceId, metric, readingId, ts, order, value, quiet], ...] in
         stream order; order as for threshold rules (min of ts and arrival); quiet, when present,
         says why the reading's transitions are recorded and not sent (alert-modes.ts): they are
         written quiet with it as their note
ARGV[4]  the lease token this instance holds; "!" is returned when the lease is not its

The change per second is (value − previous value) / (order − previous order) in seconds; a reading
ordered at or before the newest one is stale (no rate, no change). Fires when the change is past
perSecond in the rule's direction, resolves when a later one is not. Alert ids: SHA-1 of reading,
rule, member and transition. Returns one character per reading: f, r, - or s (stale).
]]
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[4] then return '!' end
local rule = cjson.decode(ARGV[2])
local perSecond, direction = tonumber(rule[3]), rule[4]
local readings = cjson.decode(ARGV[3])
local out = {}
local states = {}
for i, r in ipairs(readings) do
  local member, device, metric, readingId, ts, order, value = r[1], r[2], r[3], r[4], r[5], tonumber(r[6]), tonumber(r[7])
  if states[member] == nil then
    local packed = redis.call('HGET', KEYS[2], member)
    if packed then
      local s, o, v = string.match(packed, '^(%a+),(%d+),(.+)$')
      states[member] = { state = s, order = tonumber(o), value = tonumber(v) }
    else
      states[member] = false
    end
  end
  local prev = states[member]
  local transition = '-'
  if prev and order <= prev.order then
    transition = 's'
  else
    local current = prev and prev.state or 'ok'
    if prev then
      local rate = (value - prev.value) / ((order - prev.order) / 1000)
      local past = (direction ~= 'falling' and rate > perSecond) or (direction ~= 'rising' and rate < -perSecond)
      if past and current ~= 'firing' then transition = 'f'; current = 'firing'
      elseif not past and current == 'firing' then transition = 'r'; current = 'ok' end
      if transition ~= '-' then
        local fields = { 'v', ARGV[1], 'id', redis.sha1hex(readingId .. '|' .. rule[1] .. '|' .. member .. '|' .. transition),
          'ruleId', rule[1], 'deviceId', device, 'metric', metric, 'value', string.format('%.6g', rate),
          'threshold', string.format('%.6g', perSecond), 'state', transition == 'f' and 'firing' or 'resolved',
          'severity', rule[2], 'ts', ts, 'readingId', readingId }
        if r[8] then
          fields[#fields + 1] = 'note'
          fields[#fields + 1] = r[8]
          fields[#fields + 1] = 'quiet'
          fields[#fields + 1] = '1'
        end
        redis.call('XADD', KEYS[1], '*', unpack(fields))
      end
    end
    states[member] = { state = current, order = order, value = value }
    redis.call('HSET', KEYS[2], member, current .. ',' .. string.format('%d', order) .. ',' .. r[7])
  end
  out[i] = transition
end
return table.concat(out)
