--[=[
Window rules: an aggregate of a device's readings of a metric over a window, judged when the
window is complete, atomically with the state, so a reading evaluated again (a redelivery, a
failover) fires nothing twice.

KEYS[1]  the alerts stream
KEYS[2]  the rule's state hash: member (`device|metric`) →
         `state,order,pendingSince,current,count,sum,min,max;start:count:sum:min:max;…` — state
         ok|pending|firing, order of the newest reading counted, when the run of windows past the
         threshold began (the first one's end; 0 none), the step the newest reading is in and its
         aggregate, then one aggregate per earlier step still inside a window to come
KEYS[3]  the evaluator lease, when instances share the evaluation (with ARGV[4])
ARGV[1]  alert contract version
ARGV[2]  the rule as JSON: [ruleId, severity, aggregate (mean|min|max|count), windowMs, stepMs,
         threshold, direction (above|below), forMs]
ARGV[3]  runs as JSON: [[member, deviceId, metric, readingId, firstOrder, lastOrder, count, sum,
         min, max, quiet], ...] in stream order: a run is a device's consecutive readings of the
         metric in the batch within one step, orders rising (window/evaluator.ts), readingId and
         quiet its first reading's — the one that can complete a window. Order as for threshold
         rules (min of ts and arrival); quiet, when present, says why the run's transitions are
         recorded and not sent
ARGV[4]  the lease token this instance holds; "!" is returned when the lease is not its

Readings count in steps of stepMs (aligned to multiples of it); a window is windowMs/stepMs steps
and ends at a step's end. A reading in a later step than the device's newest completes the window
ending with the newest step: its aggregate over the readings in it is judged. Past the threshold
(> above, < below), the run begins (pending); it fires once the window's end is forMs or more past
the run's first window's end; a window not past it ends the run (resolves a firing). A reading
ordered at or before the newest counted is stale (not counted, no change): a run wholly so is
stale; one partly so (a redelivery that overlaps what was counted) is answered `p`, as is every
later run of its member in the call, and the evaluator sends their readings again one by one. Alert ids: SHA-1 of reading, rule, member and
transition. Returns one character per run: f, r, -, s (stale) or p (partly stale, not applied).
]=]
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[4] then return '!' end
local rule = cjson.decode(ARGV[2])
local ruleId, severity, aggregate = rule[1], rule[2], rule[3]
local windowMs, stepMs, threshold = tonumber(rule[4]), tonumber(rule[5]), tonumber(rule[6])
local above, forMs = rule[7] ~= 'below', tonumber(rule[8])
local readings = cjson.decode(ARGV[3])

-- One field per member: the head (state and the newest step's aggregate), parsed for every run,
-- then the earlier steps as text, parsed only when a step ends (rarer by the runs in a step) and
-- written back as read: one HGET and one HSET per member and call. Min and max are kept as the
-- readings wrote them.
local function decode(packed)
  local state, order, since, current, count, sum, low, high, rest =
    string.match(packed, '^(%a+),(%-?%d+),(%-?%d+),(%-?%d+),([^,]+),([^,]+),([^,]+),([^;]+)(.*)$')
  return { state = state, order = tonumber(order), since = tonumber(since), current = tonumber(current),
    newest = { start = tonumber(current), count = tonumber(count), sum = tonumber(sum), low = low, high = high },
    rest = rest }
end

local function encode(s)
  local n = s.newest
  return string.format('%s,%d,%d,%d,%d,%.17g,%s,%s', s.state, s.order, s.since, s.current, n.count, n.sum,
    n.low, n.high) .. s.rest
end

local function encodeStep(step)
  return string.format('%d:%d:%.17g:%s:%s', step.start, step.count, step.sum, step.low, step.high)
end

-- The member's steps, the ended ones (each with its text) and the newest last.
local function steps(s)
  local list = {}
  for text in string.gmatch(s.rest, '[^;]+') do
    local start, count, sum, low, high = string.match(text, '^([^:]+):([^:]+):([^:]+):([^:]+):(.+)$')
    list[#list + 1] = { start = tonumber(start), count = tonumber(count), sum = tonumber(sum), low = low, high = high,
      text = text }
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
  if r[11] then note = note .. '; ' .. r[11] end
  local fields = { 'v', ARGV[1], 'id', redis.sha1hex(readingId .. '|' .. ruleId .. '|' .. member .. '|' .. transition),
    'ruleId', ruleId, 'deviceId', device, 'metric', metric, 'value', string.format('%.6g', value),
    'threshold', string.format('%.6g', threshold), 'state', transition == 'f' and 'firing' or 'resolved',
    'severity', severity, 'ts', string.format('%d', windowEnd), 'readingId', readingId, 'note', note }
  if r[11] then
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
-- Members with a run partly stale: their later runs wait too, to be counted after it, in order.
local deferred = {}
local out = {}
for i, r in ipairs(readings) do
  local member, first, last = r[1], tonumber(r[5]), tonumber(r[6])
  if states[member] == nil then
    local packed = redis.call('HGET', KEYS[2], member)
    states[member] = packed and decode(packed) or false
  end
  local s = states[member]
  local step = math.floor(first / stepMs) * stepMs
  local transition = '-'
  if deferred[member] then
    transition = 'p'
  elseif s and last <= s.order then
    transition = 's'
  elseif s and first <= s.order then
    transition = 'p'
    deferred[member] = true
  else
    local count, sum, low, high = tonumber(r[7]), tonumber(r[8]), r[9], r[10]
    local fresh = { start = step, count = count, sum = sum, low = low, high = high }
    if not s then
      s = { state = 'ok', order = last, since = 0, current = step, newest = fresh, rest = '' }
      states[member] = s
    elseif step > s.current then
      local list = steps(s)
      transition = close(s, list, r)
      -- Keep the ended steps a window ending after this run's step can still hold.
      local kept = {}
      for _, old in ipairs(list) do
        if old.start > step - windowMs then kept[#kept + 1] = ';' .. (old.text or encodeStep(old)) end
      end
      s.rest = table.concat(kept)
      s.current = step
      s.newest = fresh
    else
      local newest = s.newest
      newest.count = newest.count + count
      newest.sum = newest.sum + sum
      if tonumber(low) < tonumber(newest.low) then newest.low = low end
      if tonumber(high) > tonumber(newest.high) then newest.high = high end
    end
    s.order = last
    changed[member] = true
  end
  out[i] = transition
end
for member in pairs(changed) do
  redis.call('HSET', KEYS[2], member, encode(states[member]))
end
return table.concat(out)
