-- decide_floor.lua: the yardstick of decide.lua's cost, never called by sendgate. It takes
-- decide's KEYS and ARGV and does only the Redis work every decision does whatever its rules:
-- the reads of decide (the main history, the planned sends and the histories of a version
-- before editions, the preferences) and one write of the main history (its own content back,
-- its expiry kept), then a reply of decide's shape. loadtest/benchmark.sh replays the same
-- commands through both functions: decide's Redis CPU over this one's is what the rules cost
-- (docs/BENCHMARKS.md, "Redis work per decision").
local function decide_floor(keys, args)
  local main = redis.call('GET', keys[C.KEY_MAIN])
  redis.call('MGET', keys[C.KEY_PLANNED], keys[C.KEY_V1_MAIN], keys[C.KEY_V1_EXEMPT])
  redis.call('GET', keys[C.KEY_PREFERENCES])
  if main then redis.call('SET', keys[C.KEY_MAIN], main, 'KEEPTTL') end
  return {C.ALLOWED, 0, 0}
end

register_function('decide_floor', decide_floor)
