-- decide_dry_run.lua: decide.lua's decision without its record, for DecideRequest.dry_run
-- (sendgatectl decide). Registered read-only: Redis refuses any write it would attempt, and
-- it runs on replicas.

register_function('decide_dry_run', function(keys, args) return decide(keys, args, true) end,
                  {'no-writes'})
