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
ARGV[2]  the rule as JSON: [ruleId, severity]
ARGV[3]  readings as JSON: [[member, deviceId, metric, readingId, ts, arrival], ...] in stream order
ARGV[4]  the lease token this instance holds; "!" is returned when the lease is not its

A member is a device (`pump-7`), or a device and metric (`pump-7|kwh`) for a rule that names a
metric. A silence resolves with the first reading that arrived after the one it was judged from:
the same reading whatever the batches, so the resolution's id (SHA-1 of reading, rule, member) is
the same every time. Returns how many silences resolved.
]]
if KEYS[5] and redis.call('GET', KEYS[5]) ~= ARGV[4] then return '!' end
local rule = cjson.decode(ARGV[2])
local readings = cjson.decode(ARGV[3])
local resolved = 0
for _, r in ipairs(readings) do
  local member, device, metric, readingId, ts, arrival = r[1], r[2], r[3], r[4], r[5], tonumber(r[6])
  local newest = redis.call('HGET', KEYS[3], member)
  local newestArrival = newest and tonumber(string.match(newest, '^(%d+)|')) or -1
  if arrival >= newestArrival then
    redis.call('HSET', KEYS[3], member, string.format('%d', arrival) .. '|' .. readingId .. '|' .. metric .. '|' .. ts)
    redis.call('ZADD', KEYS[2], 'GT', arrival, member)
  end
  local silentFrom = redis.call('HGET', KEYS[4], member)
  if silentFrom and arrival > tonumber(silentFrom) then
    redis.call('HDEL', KEYS[4], member)
    redis.call('ZADD', KEYS[2], 'GT', arrival, member)
    local id = redis.sha1hex(readingId .. '|' .. rule[1] .. '|' .. member .. '|back')
    redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', id, 'ruleId', rule[1], 'deviceId', device,
      'metric', metric, 'state', 'resolved', 'severity', rule[2], 'ts', ts, 'readingId', readingId,
      'note', 'reporting again')
    resolved = resolved + 1
  end
end
return resolved
