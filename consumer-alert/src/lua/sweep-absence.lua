--[[
Absence rules: calls silent every watched member whose newest reading arrived at or before the
cutoff (the pipeline's progress less the rule's silentForMs, worked out by the sweeper), and raises
its firing alert, atomically with the state: a member is called silent once per silence.

KEYS[1]  the alerts stream
KEYS[2]  the rule's watch (sorted set, member → arrival of its newest reading)
KEYS[3]  the rule's newest readings (hash, member → `arrival|readingId|metric|ts`)
KEYS[4]  the rule's silences (hash, member → the arrival its silence was judged from)
KEYS[5]  the rule's reminders due (sorted set, member → when, on Redis's clock)
KEYS[6]  the acknowledgements (hash, `<ruleId>|<deviceId>` while acknowledged)
KEYS[7]  the evaluator lease, when instances share the evaluation (with ARGV[5])
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, severity, silentForMs, perMetric (1: members are device|metric),
         repeatAfterMs (0: no reminders)]
ARGV[3]  the cutoff (ms, Redis's clock)
ARGV[4]  members at most per call (the sweeper calls again while it is full)
ARGV[5]  the lease token this instance holds; "!" is returned when the lease is not its
ARGV[6]  since when the pipeline has watched (ms): Redis's start — a silence is dated from its
         newest reading's arrival or this, whichever is later

A silent member leaves the watch (it comes back with its next reading, which resolves it); an
acknowledgement of the device's earlier firing is dropped (it covered that one, not this), and
with repeatAfterMs its first reminder is due that long from now. The
alert is dated when the device became silent (its newest reading's arrival + silentForMs), and its
id is the SHA-1 of rule, member and that arrival: the same silence raises the same alert however
often it is judged. Returns how many members were called silent.
]]
if KEYS[7] and redis.call('GET', KEYS[7]) ~= ARGV[5] then return '!' end
local rule = cjson.decode(ARGV[2])
local silentForMs, repeatAfterMs = tonumber(rule[3]), tonumber(rule[5]) or 0
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local members = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for _, member in ipairs(members) do
  local newest = redis.call('HGET', KEYS[3], member) or ''
  local arrival, readingId, metric, ts = string.match(newest, '^(%d+)|([^|]*)|([^|]*)|(%d+)$')
  if not arrival then
    -- A watch without its newest reading (written by hand, or half-removed): forget it.
    redis.call('ZREM', KEYS[2], member)
  else
    local device = string.match(member, '^([^|]+)')
    local since = math.max(tonumber(arrival), tonumber(ARGV[6]))
    local id = redis.sha1hex(rule[1] .. '|' .. member .. '|' .. arrival .. '|silent')
    local what = 'no reading from the device'
    if rule[4] == 1 then what = 'no ' .. metric .. ' reading' end
    redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', id, 'ruleId', rule[1], 'deviceId', device,
      'metric', metric, 'state', 'firing', 'severity', rule[2], 'ts', string.format('%d', since + silentForMs),
      'readingId', readingId,
      'note', 'silent: ' .. what .. ' for ' .. math.floor(silentForMs / 1000) .. ' s')
    redis.call('HSET', KEYS[4], member, arrival)
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[6], rule[1] .. '|' .. device)
    if repeatAfterMs > 0 then redis.call('ZADD', KEYS[5], now + repeatAfterMs, member) end
  end
end
return #members
