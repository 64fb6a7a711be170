--[[
Replaces the alerting rule set, versioned: a compare-and-set, so that two operators editing at
once cannot overwrite each other unseen.

KEYS[1]  the rule set (a string: JSON {"version": n, "rules": [...], "updatedAt": ms, "source": "..."})
ARGV[1]  the version the caller replaces ('' for whichever is current; '0' when there must be none)
ARGV[2]  the new set's JSON without its opening brace and version: `"rules":[...],...}`

Returns {1, new version} when replaced, {0, current version} when ARGV[1] was not current.
]]
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(cjson.decode(current).version) end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then return {0, version} end
redis.call('SET', KEYS[1], '{"version":' .. (version + 1) .. ',' .. ARGV[2])
return {1, version + 1}
