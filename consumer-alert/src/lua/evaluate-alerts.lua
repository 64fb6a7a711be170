--[[
Evaluates readings against rules' states, atomically: the states and the alert XADDs change
together, so redelivered readings never fire a transition twice.

KEYS[1]      the alerts stream
KEYS[2..n]   the state hash of each rule, in the order of the rule table (ARGV[2])
KEYS[n+1]    the acknowledgements (core's alert-acks.ts): a device acknowledged on a rule gets no
             reminders (repeatAfterMs); firing anew or resolving removes its acknowledgement
KEYS[n+2]    the firings escalation follows (escalate-alerts.lua): a sorted set, `<rule>|<device>` →
             when it fired (Redis's clock), for rules with escalation steps; a firing sent quiet is
             not followed
KEYS[n+3]    the escalation steps raised, a hash `<rule>|<device>` → step: cleared when it fires anew
             or resolves
KEYS[n+4]    the evaluator lease (with ARGV[5]): only the instance holding it evaluates
ARGV[1]      alert contract version
ARGV[2]      rules as JSON: [[ruleId, threshold, severity, forReadings, repeatAfterMs, flapTransitions, flapWithinMs, escalates], ...]
             (flapTransitions 0: the rule has no flapping option; escalates 1: it has escalation steps)
ARGV[3]      pairs as JSON: [[rule number, flags, ts, deviceId, readingId, value, metric, order, quiet], ...]
             flags = 1 when the value breaches, + 2 when it clears; ts is the reading's own time
             (copied into the alert); order is the time the state is ordered by:
             min(ts, the stream entry's time), so a reading dated ahead of its arrival counts
             as arriving when it did and can never make later readings look old; quiet, present
             only for a reading whose transitions are recorded and not sent (alert-modes.ts: it
             arrived long after it was taken, or its import said alerts=record), is why: its
             transitions are written `quiet` with that as their note.
ARGV[4]      ms: a state ordered this far ahead of a new reading's arrival was written by an
             older version from a device clock far ahead; it is ignored instead of silencing
             the device for ever.
ARGV[5]      the lease token this instance holds: if the lease is not (or no longer) its, nothing
             is evaluated and the script returns "!" (another instance took over: the readings
             stay pending for it, and are evaluated once, in stream order, there).

Alert ids: the SHA-1 of the reading id, rule id, device and transition (`f`, `r`, `p`, `n`):
the same transition caused by the same reading has the same id however often it is evaluated. A
reading evaluated again after a failover lost the state it changed (a replica holds a prefix of
the primary's writes) raises the alert it raised before, under the same id, which the alert
history and the webhook delivery log already hold.

State: one hash per rule, one field per device, in threshold-state.lua's codec (put before this
script): the state, streak, order, order notified, the reading that last changed it, that
reading's metric and value (what a rule's removal or a silence's end announces) and the flapping
marks. A reading that changes nothing is not written. A reading ordered before the last change
(or the one that made it) is stale.

Flapping: with the option, `flapTransitions` transitions within `flapWithinMs` mark the device
flapping; that transition is notified with a note saying so, the following ones are written
`quiet` (recorded, not notified) until a reading finds no transition for `flapWithinMs`, which
raises one notice of the state the device is in (note: stable again).

Returns one character per pair: f(iring), r(esolved), p (repeat), - (no transition), s(tale),
q (a transition written quiet), n (the notice that a flapping device is stable), . (no transition,
said by the quiet path below: the device's state is ok, with no streak, not flapping, or it has
none, and is ordered before this reading — the evaluator's quiet-devices.ts keeps that); or "!"
alone when the lease is not this instance's.
]]
local rules = cjson.decode(ARGV[2])
if ARGV[5] and redis.call('GET', KEYS[#rules + 5]) ~= ARGV[5] then return '!' end
local acksKey, firingKey, escalatedKey = KEYS[#rules + 2], KEYS[#rules + 3], KEYS[#rules + 4]
local nowMs = nil
local pairList = cjson.decode(ARGV[3])
local poisonedAfterMs = tonumber(ARGV[4])
local states, fieldsByRule, changed = {}, {}, {}
for rule = 1, #rules do states[rule] = {}; fieldsByRule[rule] = {}; changed[rule] = {} end
for _, p in ipairs(pairList) do
  local rule, device = p[1], p[4]
  if states[rule][device] == nil then
    states[rule][device] = false
    fieldsByRule[rule][#fieldsByRule[rule] + 1] = device
  end
end
for rule = 1, #rules do
  local fields = fieldsByRule[rule]
  if #fields > 0 then
    local values = redis.call('HMGET', KEYS[rule + 1], unpack(fields))
    -- Kept packed: most readings need only whether the state is a quiet one (quietOrder).
    for i, device in ipairs(fields) do
      if values[i] then states[rule][device] = values[i] end
    end
  end
end
-- The order of a state that is ok with no streak and not flapping (packed as read, or decoded);
-- nil for any other, and for a packing older than the flap field (the full path decodes those).
local function quietOrder(known)
  if type(known) == 'string' then
    local order, flap = string.match(known, '^ok,0,(%d+),%d+,[^,]*,[^,]*,[^,]*,([01]?)')
    if order and flap ~= '1' then return tonumber(order) end
    return nil
  end
  if known.state == 'ok' and known.streak == 0 and not known.flapping then return known.order end
  return nil
end
local out = {}
for pair, p in ipairs(pairList) do
  local rule, flags, tsText, device, readingId = p[1], p[2], p[3], p[4], p[5]
  local r = rules[rule]
  local order = tonumber(p[8])
  local known = states[rule][device]
  local okOrder = known and quietOrder(known)
  -- Most readings: one that does not breach, for a device that is ok with no streak and not
  -- flapping (or was never seen), ordered after its state: nothing can change. Said at once,
  -- without decoding the state or the tables of the full path below, which gives the same answer.
  if flags % 2 == 0 and (not known or (okOrder and order > okOrder and okOrder <= order + poisonedAfterMs)) then
    out[pair] = '.'
  else
    if type(known) == 'string' then
      known = decodeState(known) or false
      states[rule][device] = known
    end
    local state = known or
      { state = 'ok', streak = 0, order = nil, notifiedOrder = 0, readingId = '', metric = '', value = '', flapping = false, flapTimes = {} }
    local current, streak = state.state, state.streak
    local lastOrder = state.order
    if lastOrder and lastOrder > order + poisonedAfterMs then lastOrder = nil end
    local transition = '-'
    if lastOrder and (order < lastOrder or (order == lastOrder and readingId == state.readingId)) then
      transition = 's'
    else
      local breach = flags % 2 == 1
      local nextState, nextStreak, notifiedOrder = current, streak, math.min(state.notifiedOrder, order)
      if current ~= 'firing' then
        if breach then nextStreak = streak + 1 else nextStreak = 0 end
        if breach and nextStreak >= r[4] then transition = 'f'; nextState = 'firing' end
      elseif math.floor(flags / 2) % 2 == 1 then
        transition = 'r'; nextState = 'ok'; nextStreak = 0
      elseif breach and r[5] > 0 and order - notifiedOrder >= r[5] then
        if redis.call('HEXISTS', acksKey, r[1] .. '|' .. device) == 0 then transition = 'p' end
      end
      if transition == 'f' or transition == 'r' then redis.call('HDEL', acksKey, r[1] .. '|' .. device) end
      local flapN, flapWithin = r[6] or 0, r[7] or 0
      local flapping, times, flapChanged, quiet, note = state.flapping, state.flapTimes, false, false, nil
      if flapN > 0 then
        if transition == 'f' or transition == 'r' then
          local kept = {}
          for _, t in ipairs(times) do if t > order - flapWithin then kept[#kept + 1] = t end end
          kept[#kept + 1] = order
          while #kept > flapN do table.remove(kept, 1) end
          times, flapChanged = kept, true
          if flapping then
            quiet = true
          elseif #kept >= flapN then
            flapping = true
            note = 'flapping: ' .. flapN .. ' transitions within ' .. (flapWithin / 1000) .. ' s; notifications paused until stable for ' .. (flapWithin / 1000) .. ' s'
          end
        elseif transition == 'p' and flapping then
          quiet = true
        elseif transition == '-' and flapping and order - (times[#times] or 0) >= flapWithin then
          flapping, times, flapChanged = false, {}, true
          transition = 'n'
          note = 'stable for ' .. (flapWithin / 1000) .. ' s after flapping'
        end
      end
      local past = p[9]
      if past and transition ~= '-' and not quiet then
        quiet = true
        if note then note = note .. '; ' .. past else note = past end
      end
      if r[8] == 1 and (transition == 'f' or transition == 'r') then
        local member = r[1] .. '|' .. device
        redis.call('HDEL', escalatedKey, member)
        if transition == 'f' and not quiet then
          if not nowMs then
            local t = redis.call('TIME')
            nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          end
          redis.call('ZADD', firingKey, nowMs, member)
        else
          redis.call('ZREM', firingKey, member)
        end
      end
      if transition ~= '-' then
        notifiedOrder = order
        local alertState = 'firing'
        if transition == 'r' or (transition == 'n' and nextState ~= 'firing') then alertState = 'resolved' end
        local alertId = redis.sha1hex(readingId .. '|' .. r[1] .. '|' .. device .. '|' .. transition)
        local fields = { 'v', ARGV[1], 'id', alertId, 'ruleId', r[1], 'deviceId', device, 'metric', p[7],
          'value', p[6], 'threshold', r[2], 'state', alertState, 'severity', r[3], 'ts', tsText, 'readingId', readingId }
        if note then fields[#fields + 1] = 'note'; fields[#fields + 1] = note end
        if quiet then fields[#fields + 1] = 'quiet'; fields[#fields + 1] = '1' end
        redis.call('XADD', KEYS[1], '*', unpack(fields))
      end
      if transition ~= '-' or nextStreak ~= streak or lastOrder ~= state.order or flapChanged then
        states[rule][device] = { state = nextState, streak = nextStreak, order = order, notifiedOrder = notifiedOrder,
          readingId = readingId, metric = p[7], value = p[6], flapping = flapping, flapTimes = times }
        changed[rule][device] = true
      end
      if quiet then transition = 'q' end
    end
    out[pair] = transition
  end
end
for rule = 1, #rules do
  local args = {}
  for device in pairs(changed[rule]) do
    args[#args + 1] = device
    args[#args + 1] = encodeState(states[rule][device])
  end
  if #args > 0 then redis.call('HSET', KEYS[rule + 1], unpack(args)) end
end
return table.concat(out)
