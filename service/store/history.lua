-- history.lua: the packed send-history layout shared by sendgate's scripts (prepended to each).
-- A history is a string of 32-byte records, as service/store/history_codec.h describes:
-- sent-at ms, message hash (8 bytes), 5 field ids, weight, priority, denied code (0 = sent).
local RECORD = '<I6c8HHHI4I4HBB'
local RECORD_BYTES = 32
local HASH_FROM, HASH_TO = 7, 14  -- where the message hash lies in a record

-- Every record of `blob`, in stored (append) order; fields 1-5 are the ids, `pos` where the
-- record starts in `blob`.
local function parse_history(blob)
  local records = {}
  for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
    local at, hash, f1, f2, f3, f4, f5, weight, _, denied = struct.unpack(RECORD, blob, pos)
    records[#records + 1] = {f1, f2, f3, f4, f5, at = at, hash = hash, weight = weight,
                             denied = denied, pos = pos}
  end
  return records
end
