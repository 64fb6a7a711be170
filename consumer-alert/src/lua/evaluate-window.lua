--[=[
Window rules: an aggregate of a device's readings of a metric over a window, judged when the
window is complete, atomically with the state, so a reading evaluated again (a redelivery, a
failover) fires nothing twice.

KEYS[1]  the alerts stream
KEYS[2]  the rule's state hash: member (`device|metric`) →
         `state,order,pendingSince,current,count,sum,min,max` — state ok|pending|firing, order of
         the newest reading counted, when the run of windows past the threshold began (the first
         one's end; 0 none), the step the newest reading is in and its aggregate; and `#member` →
         `start:count:sum:min:max;…`, one aggregate per earlier step still inside a window to come
KEYS[3]  the evaluator lease, when instances share the evaluation (with ARGV[4])
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, severity, aggregate (mean|min|max|count), windowMs, stepMs,
         threshold, direction (above|below), forMs]
ARGV[3]  readings as JSON: [[member, deviceId, metric, readingId, ts, order, value, quiet], ...] in
         stream order; order as for threshold rules (min of ts and arrival); quiet, when present,
         says why the reading's transitions are recorded and not sent
ARGV[4]  the lease token this instance holds; "!" is returned when the lease is not its

Readings count in steps of stepMs (aligned to multiples of it); a window is windowMs/stepMs steps
and ends at a step's end. A reading in a later step than the device's newest completes the window
ending with the newest step: its aggregate over the readings in it is judged. Past the threshold
(> above, < below), the run begins (pending); it fires once the window's end is forMs or more past
the run's first window's end; a window not past it ends the run (resolves a firing). A reading
ordered at or before the newest counted is stale (not counted, no change). Alert ids: SHA-1 of
reading, rule, member and transition. Returns one character per reading: f, r, - or s (stale).
]=]
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[4] then return '!' end
local rule = cjson.decode(ARGV[2])
local ruleId, severity, aggregate = rule[1], rule[2], rule[3]
local windowMs, stepMs, threshold = tonumber(rule[4]), tonumber(rule[5]), tonumber(rule[6])
local above, forMs = rule[7] ~= 'below', tonumber(rule[8])
local readings = cjson.decode(ARGV[3])

-- The head (state and the newest step's aggregate) is read and written for every reading; the
-- steps before the newest are a field of their own (`#member`), read and written only when a step
-- ends, which is rarer by the readings in a step. Min and max are kept as the readings wrote them.
local function decode(packed)
  local state, order, since, current, count, sum, low, high =
    string.match(packed, '^(%a+),(%-?%d+),(%-?%d+),(%-?%d+),([^,]+),([^,]+),([^,]+),(.+)$')
  return { state = state, order = tonumber(order), since = tonumber(since), current = tonumber(current),
    newest = { start = tonumber(current), count = tonumber(count), sum = tonumber(sum), low = low, high = high } }
end

local function encode(s)
  local n = s.newest
  return string.format('%s,%d,%d,%d,%d,%.17g,%s,%s', s.state, s.order, s.since, s.current, n.count, n.sum,
    n.low, n.high)
end

local function encodeStep(step)
  return string.format('%d:%d:%.17g:%s:%s', step.start, step.count, step.sum, step.low, step.high)
end

-- The member's steps, the ended ones from its `#member` field and the newest last.
local function steps(member, s)
  local list = {}
  local packed = redis.call('HGET', KEYS[2], '#' .. member) or ''
  for start, count, sum, low, high in string.gmatch(packed, '([^:;]+):([^:]+):([^:]+):([^:]+):([^;]+)') do
    list[#list + 1] = { start = tonumber(start), count = tonumber(count), sum = tonumber(sum), low = low, high = high }
  end
  list[#list + 1] = s.newest
  return list
end

-- The aggregate of the window ending at `windowEnd` (nil when no reading is in it).
local function judge(list, windowEnd)
  local count, sum, low, high = 0, 0, nil, nil
  for _, step in ipairs(list) do
    if step.start >= windowEnd - windowMs and step.start < windowEnd then
      count = count + step.count
      sum = sum + step.sum
      local stepLow, stepHigh = tonumber(step.low), tonumber(step.high)
      if low == nil or stepLow < low then low = stepLow end
      if high == nil or stepHigh > high then high = stepHigh end
    end
  end
  if count == 0 then return nil end
  if aggregate == 'count' then return count
  elseif aggregate == 'min' then return low
  elseif aggregate == 'max' then return high end
  return sum / count
end

local function raise(r, transition, value, windowEnd)
  local member, device, metric, readingId = r[1], r[2], r[3], r[4]
  local note = aggregate .. ' over ' .. string.format('%g', windowMs / 1000) .. ' s'
  if r[8] then note = note .. '; ' .. r[8] end
  local fields = { 'v', ARGV[1], 'id', redis.sha1hex(readingId .. '|' .. ruleId .. '|' .. member .. '|' .. transition),
    'ruleId', ruleId, 'deviceId', device, 'metric', metric, 'value', string.format('%.6g', value),
    'threshold', string.format('%.6g', threshold), 'state', transition == 'f' and 'firing' or 'resolved',
    'severity', severity, 'ts', string.format('%d', windowEnd), 'readingId', readingId, 'note', note }
  if r[8] then
    fields[#fields + 1] = 'quiet'
    fields[#fields + 1] = '1'
  end
  redis.call('XADD', KEYS[1], '*', unpack(fields))
end

-- The window ending with the state's newest step, judged: the transition it makes.
local function close(s, list, r)
  local windowEnd = s.current + stepMs
  local value = judge(list, windowEnd)
  local past = value ~= nil and ((above and value > threshold) or (not above and value < threshold))
  if not past then
    s.since = 0
    if s.state == 'firing' then
      s.state = 'ok'
      raise(r, 'r', value or 0, windowEnd)
      return 'r'
    end
    s.state = 'ok'
    return '-'
  end
  if s.state == 'ok' then
    s.state = 'pending'
    s.since = windowEnd
  end
  if s.state == 'pending' and windowEnd - s.since >= forMs then
    s.state = 'firing'
    raise(r, 'f', value, windowEnd)
    return 'f'
  end
  return '-'
end

local states, changed = {}, {}
local out = {}
for i, r in ipairs(readings) do
  local member, order, value = r[1], tonumber(r[6]), tonumber(r[7])
  if states[member] == nil then
    local packed = redis.call('HGET', KEYS[2], member)
    states[member] = packed and decode(packed) or false
  end
  local s = states[member]
  local step = math.floor(order / stepMs) * stepMs
  local transition = '-'
  if s and order <= s.order then
    transition = 's'
  else
    local fresh = { start = step, count = 1, sum = value, low = r[7], high = r[7] }
    if not s then
      s = { state = 'ok', order = order, since = 0, current = step, newest = fresh }
      states[member] = s
    elseif step > s.current then
      local list = steps(member, s)
      transition = close(s, list, r)
      -- Keep the ended steps a window ending after this reading's step can still hold.
      local kept = {}
      for _, old in ipairs(list) do
        if old.start > step - windowMs then kept[#kept + 1] = encodeStep(old) end
      end
      if #kept > 0 then
        redis.call('HSET', KEYS[2], '#' .. member, table.concat(kept, ';'))
      else
        redis.call('HDEL', KEYS[2], '#' .. member)
      end
      s.current = step
      s.newest = fresh
    else
      local newest = s.newest
      newest.count = newest.count + 1
      newest.sum = newest.sum + value
      if value < tonumber(newest.low) then newest.low = r[7] end
      if value > tonumber(newest.high) then newest.high = r[7] end
    end
    s.order = order
    changed[member] = true
  end
  out[i] = transition
end
for member in pairs(changed) do
  redis.call('HSET', KEYS[2], member, encode(states[member]))
end
return table.concat(out)
