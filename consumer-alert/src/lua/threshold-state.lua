--[[
The state a threshold rule keeps per device (one field of the rule's state hash): the one codec
of it, put before every script that reads or writes it (evaluate-alerts.lua, announce-firing.lua),
and mirrored by threshold-state.ts for TypeScript, a contract test holding them together.

Packed as `state,streak,order,notifiedOrder,readingId,metric,value,flap`, flap being
`<flapping 0|1>;<order of a recent transition>;...` (empty without the option). States written
before metric, value and flap existed read as having none.
]]
local function decodeState(packed)
  local s, streak, order, notifiedOrder, rest = string.match(packed, '^(%a+),(%d+),(%d+),(%d+),(.*)$')
  if not s then return nil end
  local readingId, metric, value, flap = string.match(rest, '^([^,]*),?([^,]*),?([^,]*),?(.*)$')
  local flapping, times, first = false, {}, true
  for t in string.gmatch(flap, '[^;]+') do
    if first then flapping = t == '1'; first = false else times[#times + 1] = tonumber(t) end
  end
  return { state = s, streak = tonumber(streak), order = tonumber(order), notifiedOrder = tonumber(notifiedOrder),
    readingId = readingId, metric = metric, value = value, flapping = flapping, flapTimes = times }
end

local function encodeState(st)
  local flap = ''
  if st.flapping or #st.flapTimes > 0 then
    flap = st.flapping and '1' or '0'
    for _, t in ipairs(st.flapTimes) do flap = flap .. ';' .. string.format('%d', t) end
  end
  return st.state .. ',' .. st.streak .. ',' .. string.format('%d', st.order) .. ',' ..
    string.format('%d', st.notifiedOrder) .. ',' .. st.readingId .. ',' .. st.metric .. ',' .. st.value .. ',' .. flap
end
