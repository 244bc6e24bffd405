-- history.lua: reading the packed send history, shared by sendgate's scripts (put after
-- contract.lua and before each script). A history is a string of records (C.RECORD, in
-- contract.lua); `pos` is where a record starts in it, from 1.

-- Where the record of message hash (lo, hi) starts in `blob`, or nil. A plain search (C speed,
-- whatever the history's length), kept only where it falls on a record's hash field.
local function find_message(blob, lo, hi)
  local needle = struct_pack(C.HASH_FORMAT, lo, hi)
  local from = 1
  while true do
    local at = find(blob, needle, from, true)
    if not at then return nil end
    if (at - 1 - C.HASH_LOW_OFFSET) % C.RECORD_BYTES == 0 then return at - C.HASH_LOW_OFFSET end
    from = at + 1
  end
end

-- The time of the record at `pos`, in ms.
local function record_at(blob, pos)
  return (struct_unpack(C.AT_FORMAT, blob, pos + C.AT_OFFSET))
end

-- The denied code of the record at `pos`: 0 for a counted send.
local function record_denied(blob, pos)
  return byte(blob, pos + C.DENIED_OFFSET)
end

-- A list in the layout before editions (C.V1_RECORD_BYTES a record) in today's: each record
-- with EDITION 0 (none) inserted at its offset.
local function upgrade_v1(blob)
  local parts, size, cut = {}, C.V1_RECORD_BYTES, C.EDITION_OFFSET
  local none = string.rep('\0', C.EDITION_BYTES)
  for pos = 1, #blob - size + 1, size do
    parts[#parts + 1] = string.sub(blob, pos, pos + cut - 1) .. none ..
                        string.sub(blob, pos + cut, pos + size - 1)
  end
  return table.concat(parts)
end

-- Writes `blob` to `key`, which lives as long as the longer-lived of `key` and `old_key`.
local function write_moved(key, old_key, blob)
  local ttl = math.max(redis.call('PTTL', key), redis.call('PTTL', old_key))
  if ttl > 0 then
    redis.call('SET', key, blob, 'PX', ttl)
  else
    redis.call('SET', key, blob)
  end
end

-- The contact's main history `main` in today's layout, and its exempt history when a version
-- before editions left one (nil otherwise: the caller reads it when it needs it). What such a
-- version left under keys[C.KEY_V1_MAIN] and keys[C.KEY_V1_EXEMPT] (`v1_main`, `v1_exempt`, read
-- by the caller: false when there is none) is put after today's records and, unless
-- `read_only`, moved to today's keys (so that sends a replica of the older version records
-- during a rolling upgrade are not lost either).
local function with_v1_histories(keys, main, v1_main, v1_exempt, read_only)
  if not v1_main and not v1_exempt then return main, nil end
  local lists = {}
  for _, k in ipairs({{C.KEY_MAIN, C.KEY_V1_MAIN, v1_main}, {C.KEY_EXEMPT, C.KEY_V1_EXEMPT, v1_exempt}}) do
    local key, old_key = keys[k[1]], keys[k[2]]
    local blob = (k[1] == C.KEY_MAIN and main or redis.call('GET', key) or '') ..
                 upgrade_v1(k[3] or '')
    if not read_only then
      if #blob > 0 then write_moved(key, old_key, blob) end
      redis.call('DEL', old_key)
    end
    lists[#lists + 1] = blob
  end
  return lists[1], lists[2]
end

-- The planned sends (Arbiter.Plan) of `blob`, a contact's list of them (C.PLANNED records), in
-- stored order: each as {raw, at, announced, fields (the six ids), weight, priority}.
local function read_planned(blob)
  local entries = {}
  for pos = 1, #blob - C.PLANNED_BYTES + 1, C.PLANNED_BYTES do
    local at, announced, f1, f2, f3, f4, f5, f6, w, p = struct.unpack(C.PLANNED, blob, pos)
    entries[#entries + 1] = {raw = string.sub(blob, pos, pos + C.PLANNED_BYTES - 1), at = at,
                             announced = announced, fields = {f1, f2, f3, f4, f5, f6},
                             weight = w, priority = p}
  end
  return entries
end

-- Whether planned send `e` is the one of campaign and edition `campaign`, `edition`.
local function same_planned_send(e, campaign, edition)
  return e.fields[5] == campaign and e.fields[6] == edition
end

-- Writes a contact's planned sends `entries` to `key`, which lives until the last of them
-- expires (`grace` after its planned time); an empty list is deleted.
local function write_planned(key, entries, now, grace)
  if #entries == 0 then
    redis.call('DEL', key)
    return
  end
  local parts, last = {}, 0
  for i, e in ipairs(entries) do
    parts[i] = e.raw
    if e.at > last then last = e.at end
  end
  redis.call('SET', key, table.concat(parts), 'PX', math.max(last + grace - now, 1))
end
