--[[
Absence rules: readings keep devices watched, and a reading from a device called silent resolves
its silence. Atomic per call, idempotent: a reading evaluated again (a redelivery, a failover)
changes nothing it changed before.

KEYS[1]  the alerts stream
KEYS[2]  the rule's watch: a sorted set, member → arrival (ms) of its newest reading
KEYS[3]  the rule's newest readings: a hash, member → `arrival|readingId|metric|ts`
KEYS[4]  the rule's silences: a hash, member → the arrival its silence was judged from
KEYS[5]  the evaluator lease, when instances share the evaluation (with ARGV[4]): only the instance holding it evaluates
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, severity, silentForMs, perMetric (1: members are device|metric)]
ARGV[3]  readings as JSON: [[member, deviceId, metric, readingId, ts, arrival], ...] in stream order,
         arrival being min(ts, the stream entry's time): when it was taken, or arrived if earlier
ARGV[4]  the lease token this instance holds; "!" is returned when the lease is not its

A member is a device (`pump-7`), or a device and metric (`pump-7|kwh`) for a rule that names a
metric. A silence resolves with the first reading that arrived after the one it was judged from:
the same reading whatever the batches, so the resolution's id (SHA-1 of reading, rule, member) is
the same every time.

A reading that arrived more than silentForMs after the member's newest one, with no silence
called, ends a silence no sweep saw — the alerts group was behind (a backlog, consumer-alert
stopped, a new evaluator taking over) and caught up past it between two sweeps: it is raised
here, firing as the sweep would have raised it (same id, same date) and resolved by this reading,
as a live run would have. The gap counts from Redis's start when that is later (nobody could
report while it was down). Returns how many silences resolved.
]]
if KEYS[5] and redis.call('GET', KEYS[5]) ~= ARGV[4] then return '!' end
local rule = cjson.decode(ARGV[2])
local silentForMs = tonumber(rule[3])
local readings = cjson.decode(ARGV[3])
local resolved = 0
local now = redis.call('TIME')
local uptime = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')) or 0
-- Redis's start, rounded up: whole seconds of uptime put it up to a second early otherwise.
local since = (tonumber(now[1]) - uptime + 1) * 1000

local function raise(id, device, metric, state, ts, readingId, note)
  redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', id, 'ruleId', rule[1], 'deviceId', device,
    'metric', metric, 'state', state, 'severity', rule[2], 'ts', ts, 'readingId', readingId, 'note', note)
end
for _, r in ipairs(readings) do
  local member, device, metric, readingId, ts, arrival = r[1], r[2], r[3], r[4], r[5], tonumber(r[6])
  local newest = redis.call('HGET', KEYS[3], member)
  local newestArrival, newestReading, newestMetric = -1, nil, nil
  if newest then
    local a, id, m = string.match(newest, '^(%d+)|([^|]*)|([^|]*)|')
    newestArrival, newestReading, newestMetric = tonumber(a), id, m
  end
  local silentFrom = redis.call('HGET', KEYS[4], member)
  local back = false
  if silentFrom then
    back = arrival > tonumber(silentFrom)
  elseif newestReading and arrival - math.max(newestArrival, since) > silentForMs then
    -- A silence no sweep saw: raised as the sweep would have (same id, same date), then resolved.
    local from = math.max(newestArrival, since)
    local what = 'no reading from the device'
    if rule[4] == 1 then what = 'no ' .. newestMetric .. ' reading' end
    raise(redis.sha1hex(rule[1] .. '|' .. member .. '|' .. string.format('%d', newestArrival) .. '|silent'), device,
      newestMetric, 'firing', string.format('%d', from + silentForMs), newestReading,
      'silent: ' .. what .. ' for ' .. math.floor(silentForMs / 1000) .. ' s')
    back = true
  end
  if back then
    redis.call('HDEL', KEYS[4], member)
    raise(redis.sha1hex(readingId .. '|' .. rule[1] .. '|' .. member .. '|back'), device, metric, 'resolved', ts,
      readingId, 'reporting again')
    resolved = resolved + 1
  end
  if arrival >= newestArrival then
    redis.call('HSET', KEYS[3], member, string.format('%d', arrival) .. '|' .. readingId .. '|' .. metric .. '|' .. ts)
    redis.call('ZADD', KEYS[2], 'GT', arrival, member)
  end
end
return resolved
