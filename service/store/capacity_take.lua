-- capacity_take.lua: on a Redis Cluster, where a capacity counter is in another slot than the
-- contact's keys, a message takes its unit on the counter by this call before the contact's
-- decide, and gives it back (capacity_give_back.lua) when it is not allowed: the counter never
-- passes its limit (docs/redis.md, "Capacity counters on a cluster").
-- keys[1]  the counter
-- args[C.TAKE_LIMIT], args[C.TAKE_END], args[C.TAKE_NOW]  its limit, its interval's end and
--          the time now (ms)
-- Returns {1, the value before} when the unit was taken (the value was below the limit), else
-- {0, the value}.
local function capacity_take(keys, args)
  local used = tonumber(redis.call('GET', keys[1])) or 0
  if used + 1 > tonumber(args[C.TAKE_LIMIT]) then return {0, used} end
  count_on_counter(keys[1], tonumber(args[C.TAKE_END]), tonumber(args[C.TAKE_NOW]))
  return {1, used}
end

register_function('capacity_take', capacity_take)
