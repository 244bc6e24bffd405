-- capacity_give_back.lua: gives back the unit capacity_take.lua took for a message that was
-- not allowed after all. A counter gone (its interval over, and past) stays gone.
-- keys[1]  the counter
-- Returns 1 when the unit was given back, 0 when the counter was gone or at 0.
local function capacity_give_back(keys)
  local used = tonumber(redis.call('GET', keys[1]))
  if not used or used <= 0 then return 0 end
  redis.call('DECR', keys[1])
  return 1
end

register_function('capacity_give_back', capacity_give_back)
