--[[
Appends readings to the stream, in order and atomically: all of them or none.

KEYS[1]   the readings stream
ARGV[1]   the entries' contract version (`2`: one reading an entry, `3`: a frame)
ARGV[2]   the payload field's name (`r` or `f`)
ARGV[3]   the memory high water mark, as a share of maxmemory (0.9)
ARGV[4]   a frame's alert mode (`notify`, `record`, `skip`: written as `a <mode>`), or '' for none
ARGV[5..] one payload per entry

Returns how many entries were added, or {used_memory, maxmemory} when adding them would take
Redis past the high water mark of its maxmemory: then nothing is added. The check is here, in
the same atomic step as the XADDs, so that no door, however fast, can fill Redis past it — the
room above it is the consumers', who need memory to drain (alerts, states, dead letters).
]]
local highWater = tonumber(ARGV[3])
local info = redis.call('INFO', 'memory')
local max = tonumber(string.match(info, 'maxmemory:(%d+)')) or 0
if max > 0 then
  local used = tonumber(string.match(info, 'used_memory:(%d+)')) or 0
  local adding = 0
  for i = 5, #ARGV do adding = adding + #ARGV[i] end
  if used + adding > max * highWater then return {used, max} end
end
for i = 5, #ARGV do
  if ARGV[4] == '' then redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], ARGV[2], ARGV[i])
  else redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], ARGV[2], ARGV[i], 'a', ARGV[4]) end
end
return #ARGV - 4
