--[[
Absence rules' reminders (repeatAfterMs): a member still silent and unacknowledged when its
reminder is due is raised again, firing, and its next reminder is due repeatAfterMs later;
atomically with the schedule, so a reminder is raised once whichever instance sends it.

KEYS[1]  the alerts stream
KEYS[2]  the rule's reminders due (sorted set, member → when, on Redis's clock)
KEYS[3]  the rule's silences (hash, member → the arrival its silence was judged from)
KEYS[4]  the rule's newest readings (hash, member → `arrival|readingId|metric|ts`)
KEYS[5]  the acknowledgements (hash, `<ruleId>|<deviceId>` while acknowledged)
KEYS[6]  the evaluator lease, when instances share the evaluation (with ARGV[5])
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, severity, silentForMs, perMetric, repeatAfterMs]
ARGV[3]  members at most per call (the sweeper calls again while it is full)
ARGV[4]  unused
ARGV[5]  the lease token this instance holds; "!" is returned when the lease is not its

A member no longer silent (resolved, its rule retired, the device deleted) or acknowledged leaves
the schedule: its reminders stop. A reminder's id is the SHA-1 of rule, member, silence and when it
was due. Returns how many reminders were raised.
]]
if KEYS[6] and redis.call('GET', KEYS[6]) ~= ARGV[5] then return '!' end
local rule = cjson.decode(ARGV[2])
local repeatAfterMs = tonumber(rule[5])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local raised = 0
for i = 1, #due, 2 do
  local member, at = due[i], due[i + 1]
  local from = redis.call('HGET', KEYS[3], member)
  local device = string.match(member, '^([^|]+)')
  if not from or redis.call('HEXISTS', KEYS[5], rule[1] .. '|' .. device) == 1 then
    redis.call('ZREM', KEYS[2], member)
  else
    local newest = redis.call('HGET', KEYS[4], member) or ''
    local readingId, metric = string.match(newest, '^%d+|([^|]*)|([^|]*)|')
    local what = 'no reading from the device'
    if rule[4] == 1 then what = 'no ' .. (metric or 'unknown') .. ' reading' end
    local silentFor = math.floor((now - tonumber(from)) / 1000)
    redis.call('XADD', KEYS[1], '*', 'v', ARGV[1],
      'id', redis.sha1hex(rule[1] .. '|' .. member .. '|' .. from .. '|remind|' .. at), 'ruleId', rule[1],
      'deviceId', device, 'metric', metric or 'unknown', 'state', 'firing', 'severity', rule[2],
      'ts', string.format('%d', now), 'readingId', readingId or 'none',
      'note', 'still silent: ' .. what .. ' for ' .. silentFor .. ' s')
    redis.call('ZADD', KEYS[2], now + repeatAfterMs, member)
    raised = raised + 1
  end
end
return raised
