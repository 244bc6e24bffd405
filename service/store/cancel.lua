-- cancel.lua: an allowed message was not sent after all; remove its record so that its room
-- goes back to the contact's caps. Its message_id is forgotten: deciding it again counts anew.
-- KEYS[1], KEYS[2]  the contact's main and exempt histories, sg:{<contact>}:h and :e
-- ARGV[1], ARGV[2]  the message hash: low and high 32 bits, in decimal
-- Returns 1 when a counted send was removed, 0 when there was none (unknown, denied, cancelled).
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  local blob = redis.call('GET', key) or ''
  local pos = find_message(blob, lo, hi)
  if pos then
    if string.byte(blob, pos + RECORD_BYTES - 1) ~= 0 then return 0 end
    local rest = string.sub(blob, 1, pos - 1) .. string.sub(blob, pos + RECORD_BYTES)
    if #rest == 0 then
      redis.call('DEL', key)
    else
      redis.call('SET', key, rest, 'KEEPTTL')
    end
    return 1
  end
end
return 0
