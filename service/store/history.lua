-- history.lua: reading the packed send history, shared by sendgate's scripts (put after
-- contract.lua and before each script). A history is a string of records (C.RECORD, in
-- contract.lua); `pos` is where a record starts in it, from 1.

-- Where the record of message hash (lo, hi) starts in `blob`, or nil. A plain search (C speed,
-- whatever the history's length), kept only where it falls on a record's hash field.
local function find_message(blob, lo, hi)
  local needle = struct.pack(C.HASH_FORMAT, lo, hi)
  local from = 1
  while true do
    local at = string.find(blob, needle, from, true)
    if not at then return nil end
    if (at - 1 - C.HASH_LOW_OFFSET) % C.RECORD_BYTES == 0 then return at - C.HASH_LOW_OFFSET end
    from = at + 1
  end
end

-- The time of the record at `pos`, in ms.
local function record_at(blob, pos)
  return (struct.unpack(C.AT_FORMAT, blob, pos + C.AT_OFFSET))
end

-- The denied code of the record at `pos`: 0 for a counted send.
local function record_denied(blob, pos)
  return string.byte(blob, pos + C.DENIED_OFFSET)
end
