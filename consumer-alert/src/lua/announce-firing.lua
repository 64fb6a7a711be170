--[[
Announces devices still firing on a rule, for what is not a reading: a rule removed from the rule
set (each firing device resolves, and the rule's state goes), or a silence that ended (each
device still firing is notified once more). Checked device by device against the state inside
the script, so a device the evaluator resolved meanwhile is not announced.

KEYS[1]  the alerts stream
KEYS[2]  the rule's state hash (threshold-state.lua's codec, put before this script)
KEYS[3]  the evaluator lease (with ARGV[10]): only the instance holding it announces
ARGV[1]  alert contract version
ARGV[2]  alert id prefix; the device's position is appended
ARGV[3]  rule id
ARGV[4]  the rule's threshold
ARGV[5]  the rule's severity
ARGV[6]  `retire` (announce resolved, and remove the devices' states) or `remind` (announce firing)
ARGV[7]  the note the alerts carry
ARGV[8]  ts for the alerts (now, ms)
ARGV[9]  devices as JSON: ["device", ...]
ARGV[10] the lease token this instance holds

Returns how many devices were announced, or -1 when the lease is not this instance's.
]]
if redis.call('GET', KEYS[3]) ~= ARGV[10] then return -1 end
local devices = cjson.decode(ARGV[9])
if #devices == 0 then return 0 end
local packed = redis.call('HMGET', KEYS[2], unpack(devices))
local announced = 0
for i, device in ipairs(devices) do
  local state = packed[i] and decodeState(packed[i])
  if state then
    local readingId, metric, value = state.readingId, state.metric, state.value
    if state.state == 'firing' then
      announced = announced + 1
      if metric == nil or metric == '' then metric = 'unknown' end
      if value == nil or value == '' then value = ARGV[4] end
      if readingId == nil or readingId == '' then readingId = 'unknown' end
      local alertState = 'firing'
      if ARGV[6] == 'retire' then alertState = 'resolved' end
      redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'id', ARGV[2] .. i, 'ruleId', ARGV[3], 'deviceId', device, 'metric', metric,
        'value', value, 'threshold', ARGV[4], 'state', alertState, 'severity', ARGV[5], 'ts', ARGV[8], 'readingId', readingId, 'note', ARGV[7])
    end
  end
end
if ARGV[6] == 'retire' then redis.call('HDEL', KEYS[2], unpack(devices)) end
return announced
