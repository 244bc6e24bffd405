-- forget.lua: erases a contact (GDPR) if its preferences are still at the version they were
-- read at: its send history, preferences and consent trail go; its keyed hash goes into the
-- suppression list with what it had opted out of (possibly nothing), and the change feed says
-- so.
-- keys[1..4]  the main and exempt histories, the stored preferences, the consent trail
-- keys[5]     the suppression list of the contact's slot
-- keys[6]     the change feed (with args[4] = 0: none, as for write_preferences.lua)
-- keys[7..8]  the main and exempt histories as a version before editions kept them
-- keys[9]     the contact's planned sends
-- args[1]  the preferences' version read (0: none stored)
-- args[2]  the contact's keyed hash; args[3] its suppression entry (PREF_* layout)
-- args[4]  the feed's length bound (approximate); args[5..] the feed entry's field-value pairs
-- Returns {1, erased (1 when something was stored)} or {0} when the version has moved.
local function forget(keys, args)
  local stored = redis.call('GET', keys[3])
  local version = 0
  if stored then version = preferences_version(stored) end
  if version ~= tonumber(args[1]) then return {0} end
  local erased = redis.call('DEL', keys[1], keys[2], keys[3], keys[4], keys[7], keys[8], keys[9])
  redis.call('HSET', keys[5], args[2], args[3])
  if tonumber(args[4]) > 0 then
    redis.call('XADD', keys[6], 'MAXLEN', '~', args[4], '*', unpack(args, 5))
  end
  return {1, erased > 0 and 1 or 0}
end

register_function('forget', forget)
