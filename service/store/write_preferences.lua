-- write_preferences.lua: stores a contact's new preferences if they are still at the version
-- they were read at (optimistic concurrency), with its consent-trail event and its change-feed
-- entry, atomically.
-- keys[1]  the stored preferences, sg:{<contact>}:p
-- keys[2]  the consent trail, sg:{<contact>}:a (a list, newest first)
-- keys[3]  the change feed, a stream (with args[5] = 0: none; on a Redis Cluster the feed is
--          in another slot, and sendgate writes its entry in a call of its own)
-- args[1]  the version read (0: none stored)
-- args[2]  the new preferences (PREF_* layout)
-- args[3]  the consent event to push on the trail
-- args[4]  the trail's length bound; args[5] the feed's (approximate)
-- args[6..]  the feed entry's field-value pairs
-- Returns 1 when stored, 0 when the version has moved (read again and retry).
local function write_preferences(keys, args)
  local stored = redis.call('GET', keys[1])
  local version = 0
  if stored then version = preferences_version(stored) end
  if version ~= tonumber(args[1]) then return 0 end
  redis.call('SET', keys[1], args[2])
  redis.call('LPUSH', keys[2], args[3])
  redis.call('LTRIM', keys[2], 0, tonumber(args[4]) - 1)
  if tonumber(args[5]) > 0 then
    redis.call('XADD', keys[3], 'MAXLEN', '~', args[5], '*', unpack(args, 6))
  end
  return 1
end

register_function('write_preferences', write_preferences)
