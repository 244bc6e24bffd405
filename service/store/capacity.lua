-- capacity.lua: a capacity rule's counter for one shard and one interval, a plain integer key
-- (docs/redis.md, "Capacity counters").

-- Counts one message on the counter at `key`, whose interval ends at `stop` (ms); it lives until
-- a little after that end.
local function count_on_counter(key, stop, now)
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, math.max(stop - now + C.CAPACITY_LINGER, C.CAPACITY_LINGER))
  end
end
