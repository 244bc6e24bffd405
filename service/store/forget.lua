-- forget.lua: erases a contact (GDPR) if its preferences are still at the version they were
-- read at: its send history, preferences and consent trail go; its keyed hash goes into the
-- suppression list with what it had opted out of (possibly nothing), and the change feed says
-- so.
-- KEYS[1..4]  the main and exempt histories, the stored preferences, the consent trail
-- KEYS[5]     the suppression list of the contact's slot
-- KEYS[6]     the change feed
-- ARGV[1]  the preferences' version read (0: none stored)
-- ARGV[2]  the contact's keyed hash; ARGV[3] its suppression entry (PREF_* layout)
-- ARGV[4]  the feed's length bound (approximate); ARGV[5..] the feed entry's field-value pairs
-- Returns {1, erased (1 when something was stored)} or {0} when the version has moved.
local stored = redis.call('GET', KEYS[3])
local version = 0
if stored then version = preferences_version(stored) end
if version ~= tonumber(ARGV[1]) then return {0} end
local erased = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[3])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
return {1, erased > 0 and 1 or 0}
