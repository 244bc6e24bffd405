-- confirm_preferences.lua: writes a contact's stored preferences again, unchanged, if they are
-- still at the version read, so that the WAIT sendgate sends after this call covers them. An
-- update that finds its change already stored (a retry after the replicas did not confirm the
-- write in time) is then acknowledged only once the replicas have it, as the write would have
-- been: a WAIT covers only the writes made on its own connection.
-- keys[1]  the stored preferences, sg:{<contact>}:p
-- args[1]  the version read (0: none stored)
-- Returns 1 when written again (or nothing is stored, at version 0), 0 when the version has
-- moved (read again).
local function confirm_preferences(keys, args)
  local stored = redis.call('GET', keys[1])
  local version = 0
  if stored then version = preferences_version(stored) end
  if version ~= tonumber(args[1]) then return 0 end
  if stored then redis.call('SET', keys[1], stored, 'KEEPTTL') end
  return 1
end

register_function('confirm_preferences', confirm_preferences)
