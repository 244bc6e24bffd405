-- decide.lua: one decision for one contact, atomic: replay lookup, every cap of the plan, and the
-- send recorded only when every cap has room. Policy-agnostic: service/core compiles the plan;
-- service/core/history.cc states the same rules in C++ and the tests hold this script to them.
-- Every argument is a decimal number or a letter, so the call can be typed into redis-cli or
-- redis-benchmark.
-- KEYS[1]  the contact's history key, sg:{<contact>}:h
-- ARGV[1]  'D' decide and record, or 'R' replay lookup only (nothing is written)
-- ARGV[2..11]  the send: at ms, message hash low and high 32 bits, channel, category,
--          subscription, program and campaign ids, weight, priority
-- ARGV[12] denied code: the last byte of the record kept when denied
-- ARGV[13] deny_after ms: room found later than this means DENY rather than DEFER
-- ARGV[14] keep_after ms: older records are dropped
-- ARGV[15] retention ms: the key expires this long after its latest record
-- ARGV[16] now ms
-- ARGV[17] number of caps, then per cap: start ms, end ms, slide ms (0 = calendar), limit,
--          number of matches, then per match: field (1-5), number of ids, the ids
-- Returns {1, 0, used, room, ...} allowed and recorded; {2, retry, ...} deferred;
--   {3, retry or -1 (never), ...} denied and recorded; per cap: used weight and room
--   (0 = room now, -1 = never, else ms); or {4, first_at} replay of an allowed message,
--   {5, first_at, code} replay of a denied one, {6} unknown (replay lookup only).
local MAX_COUNTED, MAX_DENIED = 1000, 16
local NEVER = -1

local lo, hi = tonumber(ARGV[3]), tonumber(ARGV[4])
local blob = redis.call('GET', KEYS[1]) or ''
local records = parse_history(blob)
for _, r in ipairs(records) do
  if r.lo == lo and r.hi == hi then
    if r.denied == 0 then return {4, r.at} end
    return {5, r.at, r.denied}
  end
end
if ARGV[1] == 'R' then return {6} end

local send_at, weight = tonumber(ARGV[2]), tonumber(ARGV[10])
local function record(denied)
  return struct.pack(RECORD, send_at, lo, hi, tonumber(ARGV[5]), tonumber(ARGV[6]),
                     tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), weight,
                     tonumber(ARGV[11]), denied)
end
local deny_after, keep_after = tonumber(ARGV[13]), tonumber(ARGV[14])
local retention, now = tonumber(ARGV[15]), tonumber(ARGV[16])

local kept = {}
for _, r in ipairs(records) do
  if r.at >= keep_after then kept[#kept + 1] = r end
end

local function counts(cap, r)
  if r.denied ~= 0 or r.at < cap.start or r.at >= cap.stop then return false end
  for _, m in ipairs(cap.match) do
    if not m.ids[r[m.field]] then return false end
  end
  return true
end

-- Used weight, and when the cap has room for `weight` more (nil = now, NEVER = never).
local function room(cap)
  local used, counted = 0, {}
  for _, r in ipairs(kept) do
    if counts(cap, r) then
      used = used + r.weight
      counted[#counted + 1] = r
    end
  end
  if used + weight <= cap.limit then return used, nil end
  if weight > cap.limit then return used, NEVER end
  if cap.slide == 0 then return used, cap.stop end
  table.sort(counted, function(a, b) return a.at < b.at end)
  local left = used
  for _, r in ipairs(counted) do
    left = left - r.weight
    if left + weight <= cap.limit then return used, r.at + cap.slide end
  end
  return used, NEVER
end

local reply = {1, 0}
local retry = nil
local i = 18
for _ = 1, tonumber(ARGV[17]) do
  local cap = {start = tonumber(ARGV[i]), stop = tonumber(ARGV[i + 1]),
               slide = tonumber(ARGV[i + 2]), limit = tonumber(ARGV[i + 3]), match = {}}
  local matches = tonumber(ARGV[i + 4])
  i = i + 5
  for _ = 1, matches do
    local m = {field = tonumber(ARGV[i]), ids = {}}
    for k = 1, tonumber(ARGV[i + 1]) do m.ids[tonumber(ARGV[i + 1 + k])] = true end
    i = i + 2 + tonumber(ARGV[i + 1])
    cap.match[#cap.match + 1] = m
  end
  local used, at = room(cap)
  reply[#reply + 1] = used
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
  denied = tonumber(ARGV[12])
end

-- Record the send (or the denial), dropping what aged out and the oldest beyond the bounds.
local send = record(denied)
kept[#kept + 1] = {at = send_at, denied = denied, raw = send}
local function drop_oldest(of_denials, most)
  local n = 0
  for _, r in ipairs(kept) do
    if (r.denied ~= 0) == of_denials then n = n + 1 end
  end
  local k = 1
  while n > most and k <= #kept do
    if (kept[k].denied ~= 0) == of_denials then
      table.remove(kept, k)
      n = n - 1
    else
      k = k + 1
    end
  end
end
drop_oldest(false, MAX_COUNTED)
drop_oldest(true, MAX_DENIED)

local latest = send_at
for _, r in ipairs(kept) do
  if r.at > latest then latest = r.at end
end
local ttl = math.max(latest + retention - now, 1000)
if #kept == #records + 1 then
  redis.call('APPEND', KEYS[1], send)  -- nothing dropped: the common, cheap case
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  local parts = {}
  for k, r in ipairs(kept) do
    parts[k] = r.raw or string.sub(blob, r.pos, r.pos + RECORD_BYTES - 1)
  end
  redis.call('SET', KEYS[1], table.concat(parts), 'PX', ttl)
end
return reply
