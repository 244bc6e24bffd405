-- cancel.lua: an allowed message was not sent after all; remove its record so that its room
-- goes back to the contact's caps. Its message_id is forgotten: deciding it again counts anew.
-- KEYS[1]  the contact's history key, sg:{<contact>}:h
-- ARGV[1], ARGV[2]  the message hash: low and high 32 bits, in decimal
-- Returns 1 when a counted send was removed, 0 when there was none (unknown, denied, cancelled).
local blob = redis.call('GET', KEYS[1])
if not blob then return 0 end
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, r in ipairs(parse_history(blob)) do
  if r.lo == lo and r.hi == hi then
    if r.denied ~= 0 then return 0 end
    local pos = r.pos
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
