-- cancel.lua: an allowed message was not sent after all; remove its record so that its room
-- goes back to the contact's caps. Its message_id is forgotten: deciding it again counts anew.
-- keys  the contact's keys, as decide.lua's (contract.lua's KEY_*): its main and exempt
--       histories, and where a version before editions kept them
-- args[C.CANCEL_HASH_LOW], args[C.CANCEL_HASH_HIGH]  the message hash's two halves, in decimal
-- Returns 1 when a counted send was removed, 0 when there was none (unknown, denied, cancelled).
local function cancel(keys, args)
  local lo, hi = tonumber(args[C.CANCEL_HASH_LOW]), tonumber(args[C.CANCEL_HASH_HIGH])
  local v1 = redis.call('MGET', keys[C.KEY_V1_MAIN], keys[C.KEY_V1_EXEMPT])
  with_v1_histories(keys, redis.call('GET', keys[C.KEY_MAIN]) or '', v1[1], v1[2], false)
  for _, key in ipairs({keys[C.KEY_MAIN], keys[C.KEY_EXEMPT]}) do
    local blob = redis.call('GET', key) or ''
    local pos = find_message(blob, lo, hi)
    if pos then
      if record_denied(blob, pos) ~= 0 then return 0 end
      local rest = string.sub(blob, 1, pos - 1) .. string.sub(blob, pos + C.RECORD_BYTES)
      if #rest == 0 then
        redis.call('DEL', key)
      else
        redis.call('SET', key, rest, 'KEEPTTL')
      end
      return 1
    end
  end
  return 0
end

register_function('cancel', cancel)
