-- history.lua: the packed send-history layout shared by sendgate's scripts (prepended to each).
-- A history is a string of 32-byte records, as service/store/history_codec.h describes:
-- sent-at ms, message hash (8 bytes), 5 field ids, weight, priority, denied code (0 = sent).
-- The message hash is read as two 32-bit halves (low first), as the callers send it.
local RECORD = '<I6I4I4HHHI4I4HBB'
local RECORD_BYTES = 32

-- Where the record of message hash (lo, hi) starts in `blob`, or nil. A plain search (C speed,
-- whatever the history's length), kept only where it falls on a record's hash field.
local function find_message(blob, lo, hi)
  local needle = struct.pack('<I4I4', lo, hi)
  local from = 1
  while true do
    local at = string.find(blob, needle, from, true)
    if not at then return nil end
    if (at - 7) % RECORD_BYTES == 0 then return at - 6 end
    from = at + 1
  end
end
