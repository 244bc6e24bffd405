-- cancel.lua: an allowed message was not sent after all; remove its record so that its room
-- goes back to the contact's caps. Its message_id is forgotten: deciding it again counts anew.
-- KEYS[1]  the contact's history key, sg:{<contact>}:h
-- ARGV[1]  the message hash (8 bytes, as stored in records)
-- Returns 1 when a counted send was removed, 0 when there was none (unknown, denied, cancelled).
local blob = redis.call('GET', KEYS[1])
if not blob then return 0 end
for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
  if string.sub(blob, pos + HASH_FROM - 1, pos + HASH_TO - 1) == ARGV[1] then
    if string.byte(blob, pos + RECORD_BYTES - 1) ~= 0 then return 0 end
    local rest = string.sub(blob, 1, pos - 1) .. string.sub(blob, pos + RECORD_BYTES)
    if #rest == 0 then
      redis.call('DEL', KEYS[1])
    else
      redis.call('SET', KEYS[1], rest, 'KEEPTTL')
    end
    return 1
  end
end
return 0
