-- write_preferences.lua: stores a contact's new preferences if they are still at the version
-- they were read at (optimistic concurrency), with its consent-trail event and its change-feed
-- entry, atomically.
-- KEYS[1]  the stored preferences, sg:{<contact>}:p
-- KEYS[2]  the consent trail, sg:{<contact>}:a (a list, newest first)
-- KEYS[3]  the change feed, a stream
-- ARGV[1]  the version read (0: none stored)
-- ARGV[2]  the new preferences (PREF_* layout)
-- ARGV[3]  the consent event to push on the trail
-- ARGV[4]  the trail's length bound; ARGV[5] the feed's (approximate)
-- ARGV[6..]  the feed entry's field-value pairs
-- Returns 1 when stored, 0 when the version has moved (read again and retry).
local stored = redis.call('GET', KEYS[1])
local version = 0
if stored then version = preferences_version(stored) end
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6))
return 1
