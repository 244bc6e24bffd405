-- read_preferences.lua: a contact's stored preferences, or, for a contact that has none, its
-- entry in the suppression list when it was forgotten. Reads only: it may run on a replica.
-- keys[1]  the stored preferences, sg:{<contact>}:p
-- keys[2]  the suppression list of the contact's slot
-- args[1]  the contact's keyed hash in it, or '' (no suppression list)
-- Returns {1, preferences}, {2, suppression entry} or {0}.
local function read_stored_preferences(keys, args)
  local stored = redis.call('GET', keys[1])
  if stored then return {1, stored} end
  if args[1] ~= '' then
    local entry = redis.call('HGET', keys[2], args[1])
    if entry then return {2, entry} end
  end
  return {0}
end

register_function('read_preferences', read_stored_preferences, {'no-writes'})
