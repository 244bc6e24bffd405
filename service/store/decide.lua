-- decide.lua: one decision for one contact, atomic: replay lookup, every cap of the plan, and the
-- send recorded only when every cap has room. Policy-agnostic: service/core compiles the plan;
-- service/core/history.cc states the same rules in C++ and the tests hold this script to them.
-- KEYS[1]  the contact's main history, sg:{<contact>}:h (sends of capped categories, denials)
-- KEYS[2]  the contact's exempt history, sg:{<contact>}:e (sends of categories exempt from caps)
-- ARGV[1]  the plan, a JSON array of numbers (one cjson.decode: cheaper than an argument each,
--          and still text that redis-cli, MONITOR and redis-benchmark show as is):
--   [1]  1 to decide and record, 0 for a replay lookup only (nothing is written)
--   [2..11]  the send: at ms, message hash low and high 32 bits, channel, category,
--        subscription, program and campaign ids, weight, priority
--   [12] 1 when the send's category is exempt from caps (an allowed send goes to KEYS[2])
--   [13] denied code: the last byte of the record kept when denied
--   [14] deny_after ms: room found later than this means DENY rather than DEFER
--   [15] keep_after ms: a rewrite drops older records
--   [16] trim_before ms: a list whose first record is older is rewritten
--   [17] retention ms: a key expires this long after its latest record
--   [18] now ms
--   [19] number of caps, then per cap: start ms, end ms, slide ms (0 = calendar), limit,
--        1 when it counts the exempt list, number of matches, then per match: field (1-5),
--        number of ids, the ids
-- Returns {1, 0, used, room, ...} allowed and recorded; {2, retry, ...} deferred;
--   {3, retry or -1 (never), ...} denied and recorded; per cap: used weight and room
--   (0 = room now, -1 = never, else ms); or {4, first_at} replay of an allowed message,
--   {5, first_at, code} replay of a denied one, {6} unknown (replay lookup only).
local MAX_COUNTED, COUNTED_FLOOR, MAX_DENIED, DENIED_FLOOR = 1000, 900, 16, 12
local EXEMPT_REPLAY_DEPTH = 64  -- records: core::kExemptReplayDepth
local NEVER = -1
-- What a counting pass reads: sent at, the 5 ids, weight, denied code.
local COUNTED_FIELDS = '<I6xxxxxxxxHHHI4I4HxB'

-- A busy contact's exempt list can be long: it is read whole only when a cap counts it, when
-- it is short, or when it is rewritten.
local P = cjson.decode(ARGV[1])
local lo, hi = P[3], P[4]
local is_exempt = P[12] == 1
local main = redis.call('GET', KEYS[1]) or ''
local searched = {main}
if is_exempt then
  searched[2] = redis.call('GETRANGE', KEYS[2], -EXEMPT_REPLAY_DEPTH * RECORD_BYTES, -1)
end
for _, blob in ipairs(searched) do
  local first = find_message(blob, lo, hi)
  if first then
    local at = struct.unpack('<I6', blob, first)
    local denied = string.byte(blob, first + RECORD_BYTES - 1)
    if denied == 0 then return {4, at} end
    return {5, at, denied}
  end
end
if P[1] == 0 then return {6} end

local send_at, weight = P[2], P[10]
local deny_after, keep_after, trim_before = P[14], P[15], P[16]
local retention, now = P[17], P[18]

-- The caps of the plan; a match is {field, set of ids}.
local caps, any_counts_exempt = {}, false
local i = 20
for c = 1, P[19] do
  local cap = {start = P[i], stop = P[i + 1], slide = P[i + 2], limit = P[i + 3],
               counts_exempt = P[i + 4] == 1, match = {}, used = 0, sends = {}}
  any_counts_exempt = any_counts_exempt or cap.counts_exempt
  local matches = P[i + 5]
  i = i + 6
  for _ = 1, matches do
    local m = {field = P[i], ids = {}}
    for k = 1, P[i + 1] do m.ids[P[i + 1 + k]] = true end
    i = i + 2 + P[i + 1]
    cap.match[#cap.match + 1] = m
  end
  caps[c] = cap
end

local fields = {}  -- the ids of the record being read, reused
local function matches(cap)
  for _, m in ipairs(cap.match) do
    if not m.ids[fields[m.field]] then return false end
  end
  return true
end

-- Adds the counted sends of `blob` to the usage of the caps that count that list, and keeps
-- each cap's sends (few: caps keep them few) for `room`.
local function count(blob, is_exempt)
  for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
    local at, f1, f2, f3, f4, f5, w, denied = struct.unpack(COUNTED_FIELDS, blob, pos)
    if denied == 0 then
      fields[1], fields[2], fields[3], fields[4], fields[5] = f1, f2, f3, f4, f5
      for _, cap in ipairs(caps) do
        if (cap.counts_exempt or not is_exempt) and at >= cap.start and at < cap.stop and
            matches(cap) then
          cap.used = cap.used + w
          cap.sends[#cap.sends + 1] = {at, w}
        end
      end
    end
  end
end
local exempt = nil  -- the whole exempt list, once read
if #caps > 0 then count(main, false) end
if any_counts_exempt then
  exempt = redis.call('GET', KEYS[2]) or ''
  count(exempt, true)
end

-- When a full cap has room for `weight` more: its window's end (calendar), or `slide` after
-- the counted send whose leaving makes enough room (rolling); NEVER when weight > limit.
local function room(cap)
  if weight > cap.limit then return NEVER end
  if cap.slide == 0 then return cap.stop end
  table.sort(cap.sends, function(a, b) return a[1] < b[1] end)
  local left = cap.used
  for _, s in ipairs(cap.sends) do
    left = left - s[2]
    if left + weight <= cap.limit then return s[1] + cap.slide end
  end
  return NEVER
end

local reply = {1, 0}
local retry = nil
for _, cap in ipairs(caps) do
  local at = nil
  if cap.used + weight > cap.limit then at = room(cap) end
  reply[#reply + 1] = cap.used
  reply[#reply + 1] = at or 0
  if at ~= nil and retry ~= NEVER then
    if at == NEVER or retry == nil or at > retry then retry = at end
  end
end

local denied = 0
if retry ~= nil then
  reply[2] = retry
  reply[1] = (retry ~= NEVER and retry <= deny_after) and 2 or 3
  if reply[1] == 2 then return reply end
  denied = P[13]
end

-- Appends `record` to a list {key, n records, first_at, load() -> its whole content, and
-- whether it may hold denials}; rewrites the list when its first record is older than
-- trim_before or a bound is passed: without records older than keep_after, and without the
-- oldest of a kind beyond its bound, down to its floor. A short list is written whole with SET
-- (exact allocation: memory per contact stays small); a long one is appended to (its write
-- stays small, and it is not read). The key never expires before retention after its latest
-- record.
local SET_UP_TO = 64  -- records
local function append(list, record, record_denied)
  local counted, denials = list.n, 0
  if list.may_hold_denials then
    local blob = list.load()
    for pos = RECORD_BYTES, #blob, RECORD_BYTES do
      if string.byte(blob, pos) ~= 0 then denials = denials + 1 end
    end
    counted = list.n - denials
  end
  if record_denied == 0 then counted = counted + 1 else denials = denials + 1 end
  local trim = list.n > 0 and list.first_at < trim_before
  local over = counted > MAX_COUNTED or denials > MAX_DENIED
  if not trim and not over then
    if list.n >= SET_UP_TO then
      redis.call('APPEND', list.key, record)
      redis.call('PEXPIRE', list.key, math.max(send_at + retention - now, 1000), 'GT')
    else
      local blob, latest = list.load(), send_at
      for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
        local at = struct.unpack('<I6', blob, pos)
        if at > latest then latest = at end
      end
      redis.call('SET', list.key, blob .. record, 'PX', math.max(latest + retention - now, 1000))
    end
    return
  end

  local blob = list.load()
  local kept = {}
  for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
    if struct.unpack('<I6', blob, pos) >= keep_after then
      kept[#kept + 1] = {pos = pos, denied = string.byte(blob, pos + RECORD_BYTES - 1) ~= 0}
    end
  end
  kept[#kept + 1] = {raw = record, denied = record_denied ~= 0}
  local function drop_oldest(of_denials, most, floor)
    local count = 0
    for _, r in ipairs(kept) do
      if r.denied == of_denials then count = count + 1 end
    end
    if count <= most then return end
    local excess = count - floor
    for _, r in ipairs(kept) do
      if excess == 0 then return end
      if r.denied == of_denials and not r.gone then
        r.gone = true
        excess = excess - 1
      end
    end
  end
  drop_oldest(false, MAX_COUNTED, COUNTED_FLOOR)
  drop_oldest(true, MAX_DENIED, DENIED_FLOOR)
  local parts, latest = {}, send_at
  for _, r in ipairs(kept) do
    if not r.gone then
      local raw = r.raw or string.sub(blob, r.pos, r.pos + RECORD_BYTES - 1)
      local at = struct.unpack('<I6', raw)
      if at > latest then latest = at end
      parts[#parts + 1] = raw
    end
  end
  redis.call('SET', list.key, table.concat(parts), 'PX', math.max(latest + retention - now, 1000))
end

local record = struct.pack(RECORD, send_at, lo, hi, P[5], P[6], P[7], P[8], P[9], weight, P[11],
                           denied)
local function first_at(blob)
  return #blob > 0 and struct.unpack('<I6', blob) or nil
end
if denied == 0 and is_exempt then
  local n = (exempt and #exempt or redis.call('STRLEN', KEYS[2])) / RECORD_BYTES
  append({key = KEYS[2], n = n,
          first_at = n > 0 and first_at(exempt or redis.call('GETRANGE', KEYS[2], 0, 5)),
          load = function()
            exempt = exempt or redis.call('GET', KEYS[2]) or ''
            return exempt
          end}, record, denied)
else
  append({key = KEYS[1], n = #main / RECORD_BYTES, first_at = first_at(main),
          load = function() return main end, may_hold_denials = true}, record, denied)
end
return reply
