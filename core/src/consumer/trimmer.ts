import type { Logger } from '../logger.ts';
import { nearlyFull, readRedisMemory } from '../redis-memory.ts';
import type Redis from 'ioredis';

/**
 * Trims the stream to just below the oldest entry any group still needs: a group's oldest pending
 * entry, or (nothing pending) the entry after its last-delivered id. Runs as one Lua script, so no
 * group can move between the look and the trim. Keeps at least RETAIN_ENTRIES recent entries for
 * replay (finding that bound reads them: O(retain) per trim). No groups: nothing is trimmed.
 */
const SAFE_TRIM = `
local stream = KEYS[1]
local retain = tonumber(ARGV[1])
if redis.call('EXISTS', stream) == 0 then return {0, 'no stream'} end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq), ms
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local groups = redis.call('XINFO', 'GROUPS', stream)
if #groups == 0 then return {0, 'no groups'} end
local keep = nil
for _, flat in ipairs(groups) do
  local info = {}
  for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
  local needed
  if tonumber(info['pending']) > 0 then
    needed = redis.call('XPENDING', stream, info['name'])[2]
  else
    local _, seq, ms = parse(info['last-delivered-id'])
    needed = ms .. '-' .. string.format('%d', seq + 1)
  end
  if keep == nil or less(needed, keep) then keep = needed end
end
if retain > 0 then
  if redis.call('XLEN', stream) <= retain then return {0, 'within retention'} end
  local recent = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', retain)
  local oldestRecent = recent[#recent][1]
  if less(oldestRecent, keep) then keep = oldestRecent end
end
return {redis.call('XTRIM', stream, 'MINID', keep), keep}
`;

/**
 * One safe trim; returns how many entries went and the lowest id kept (or why none went). With
 * Redis nearly full, the entries kept for replay go too: every group is done with them, and the
 * memory they hold is what the doors wait for.
 */
export async function trimSafely(
  redis: Redis,
  stream: string,
  retainEntries: number,
): Promise<{ trimmed: number; keptFrom: string }> {
  const retain = retainEntries > 0 && nearlyFull(await readRedisMemory(redis)) ? 0 : retainEntries;
  const [trimmed, keptFrom] = (await redis.eval(SAFE_TRIM, 1, stream, retain)) as [number, string];
  return { trimmed, keptFrom };
}

/** Trims every `intervalMs` until stopped; failures are logged and retried next time. */
export function startTrimmer(options: {
  redis: Redis;
  stream: string;
  retainEntries: number;
  intervalMs: number;
  logger: Logger;
}) {
  const { redis, stream, retainEntries, intervalMs, logger } = options;
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = trimSafely(redis, stream, retainEntries)
      .then(({ trimmed, keptFrom }) => {
        if (trimmed > 0) logger.info('stream_trimmed', { stream, trimmed, keptFrom });
      })
      .catch((error) => logger.warn('trim_failed', { stream, error }))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
