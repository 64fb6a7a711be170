--[[
Devices as things (core/src/device-registry.ts): each device's first and last seen and the newest
reading of each of its metrics, atomically per call and idempotent — a reading applied again (a
redelivery, a failover) changes nothing it changed before.

KEYS[1]  the records: a hash, device id → JSON {f: first seen, l: last seen, x: metrics not
         listed, m: {metric: [value, unit, ts, readingId, seen]}}
KEYS[2]  the index: a sorted set of device ids, all scored 0 (pages by id)
KEYS[3]  the evaluator lease, when instances share the evaluation (with ARGV[2])
ARGV[1]  readings as JSON: [[deviceId, metric, value, unit, ts, seen, readingId, earliest], ...],
         the newest of each device and metric in the batch; seen being min(ts, arrival) as absence
         rules count it, earliest the least seen of the device and metric in the batch
ARGV[2]  the lease token this instance holds; "!" is returned when the lease is not its
ARGV[3]  metrics listed per device at most; past it a metric is counted (x), not listed

Returns how many devices were new.
]]
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[2] then return '!' end
local readings = cjson.decode(ARGV[1])
local most = tonumber(ARGV[3])
-- Devices a command at a time, in chunks (Lua's unpack takes a few thousand values at most).
local CHUNK = 1000
local devices, listed = {}, {}
for _, r in ipairs(readings) do
  if not listed[r[1]] then listed[r[1]] = true; devices[#devices + 1] = r[1] end
end
local stored = {}
for start = 1, #devices, CHUNK do
  local chunk = { unpack(devices, start, math.min(start + CHUNK - 1, #devices)) }
  local values = redis.call('HMGET', KEYS[1], unpack(chunk))
  for i, device in ipairs(chunk) do stored[device] = values[i] end
end
local records = {}
local new = 0
for _, r in ipairs(readings) do
  local device, metric, seen, earliest = r[1], r[2], tonumber(r[6]), tonumber(r[8])
  local d = records[device]
  if d == nil then
    local packed = stored[device]
    if packed then
      d = cjson.decode(packed)
      -- cjson reads an empty object back as an empty array: either way, no metric yet.
      local n = 0
      for _ in pairs(d.m) do n = n + 1 end
      d.n = n
    else
      d = { f = earliest, l = seen, m = {}, n = 0 }
      redis.call('ZADD', KEYS[2], 0, device)
      new = new + 1
    end
    records[device] = d
  end
  if earliest < d.f then d.f = earliest end
  if seen > d.l then d.l = seen end
  local known = d.m[metric]
  if known then
    if seen >= known[5] then d.m[metric] = { r[3], r[4], tonumber(r[5]), r[7], seen } end
  elseif d.n < most then
    d.m[metric] = { r[3], r[4], tonumber(r[5]), r[7], seen }
    d.n = d.n + 1
  else
    d.x = (d.x or 0) + 1
  end
end
local args = {}
for _, device in ipairs(devices) do
  local d = records[device]
  d.n = nil
  args[#args + 1] = device
  args[#args + 1] = cjson.encode(d)
  if #args >= 2 * CHUNK then redis.call('HSET', KEYS[1], unpack(args)); args = {} end
end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
return new
