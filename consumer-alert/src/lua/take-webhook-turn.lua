--[[
One pace per webhook across every consumer-alert instance: takes the next turn to send, or
says how long to wait for it. Redis's clock decides, so instances on other machines agree.

KEYS[1]   the pace key of one webhook: the earliest time (ms) its next message may go
ARGV[1]   ms between two messages to that webhook (ALERT_WEBHOOK_MIN_INTERVAL_MS)

Returns 0 when the turn is taken (the next one is then ARGV[1] ms away), else the ms to wait.
]]
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nextAt > nowMs then return nextAt - nowMs end
-- Expires on its own: a webhook no longer used leaves nothing behind.
redis.call('SET', KEYS[1], nowMs + interval, 'PX', interval + 1000)
return 0
