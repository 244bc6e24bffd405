-- history.lua: the packed send-history layout shared by sendgate's scripts (prepended to each).
-- A history is a string of 32-byte records, as service/store/history_codec.h describes:
-- sent-at ms, message hash (8 bytes), 5 field ids, weight, priority, denied code (0 = sent).
-- The message hash is read as two 32-bit halves (low first), as the callers send it.
local RECORD = '<I6I4I4HHHI4I4HBB'
local RECORD_BYTES = 32

-- Every record of `blob`, in stored (append) order; fields 1-5 are the ids, `pos` where the
-- record starts in `blob`.
local function parse_history(blob)
  local records = {}
  for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
    local at, lo, hi, f1, f2, f3, f4, f5, weight, _, denied = struct.unpack(RECORD, blob, pos)
    records[#records + 1] = {f1, f2, f3, f4, f5, at = at, lo = lo, hi = hi, weight = weight,
                             denied = denied, pos = pos}
  end
  return records
end
