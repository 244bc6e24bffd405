-- read_preferences.lua: a contact's stored preferences, or, for a contact that has none, its
-- entry in the suppression list when it was forgotten.
-- KEYS[1]  the stored preferences, sg:{<contact>}:p
-- KEYS[2]  the suppression list of the contact's slot
-- ARGV[1]  the contact's keyed hash in it, or '' (no suppression list)
-- Returns {1, preferences}, {2, suppression entry} or {0}.
local stored = redis.call('GET', KEYS[1])
if stored then return {1, stored} end
if ARGV[1] ~= '' then
  local entry = redis.call('HGET', KEYS[2], ARGV[1])
  if entry then return {2, entry} end
end
return {0}
