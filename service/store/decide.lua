-- decide.lua: one decision for one contact, atomic: the replay lookup, then each history-based
-- rule of the plan in order (caps today), then the record of the send when every rule lets it
-- go now, or of its denial. Policy-agnostic: service/core compiles the plan;
-- service/core/history.cc states the same rules in C++ and the tests hold this script to them.
-- Positions, outcomes, sentinels and bounds (PLAN_*, CAP_*, REPLY_*, RECORD*, NEVER ...) come
-- from contract.lua, generated from service/store/script_contract.h.
-- KEYS[KEY_MAIN]    the main history, sg:{<contact>}:h: sends of capped categories, denials
-- KEYS[KEY_EXEMPT]  the exempt history, sg:{<contact>}:e: sends of categories exempt from caps
-- ARGV[1]  the plan, a JSON array of numbers (one cjson.decode is cheaper than an argument
--          each, and it stays text that redis-cli, MONITOR and redis-benchmark show as is)
-- Returns, for a message id already decided: {REPLAY_ALLOWED or REPLAY_DENIED, the first
-- decision's time, its denied code}; otherwise {ALLOWED, 0, 0}, {DEFERRED, retry, 0} or
-- {DENIED, retry or NEVER, 0}, followed by each cap's (used, room): room is ROOM_NOW, NEVER or
-- the instant (ms) the cap has room for the message.

-- A busy contact's exempt list can be long: it is read whole only when a cap counts it, when
-- it is short, or when it is rewritten.
local P = cjson.decode(ARGV[1])
local lo, hi = P[PLAN_HASH_LOW], P[PLAN_HASH_HIGH]
local is_exempt = P[PLAN_EXEMPT] == 1
local main = redis.call('GET', KEYS[KEY_MAIN]) or ''
local searched = {main}
if is_exempt then
  searched[2] = redis.call('GETRANGE', KEYS[KEY_EXEMPT], -EXEMPT_REPLAY_DEPTH * RECORD_BYTES, -1)
end
for _, blob in ipairs(searched) do
  local first = find_message(blob, lo, hi)
  if first then
    local denied = record_denied(blob, first)
    return {denied == 0 and REPLAY_ALLOWED or REPLAY_DENIED, record_at(blob, first), denied}
  end
end

local send_at, weight = P[PLAN_SEND_AT], P[PLAN_WEIGHT]
local deny_after, keep_after, trim_before = P[PLAN_DENY_AFTER], P[PLAN_KEEP_AFTER],
                                            P[PLAN_TRIM_BEFORE]
local retention, now = P[PLAN_RETENTION], P[PLAN_NOW]
local exempt = nil  -- the whole exempt list, once read

-- Rule: caps. Counts each cap's matching sends in its window and finds when it has room.
local function check_caps(reply)
  local caps, any_counts_exempt = {}, false
  local i = PLAN_HEAD + 1
  for c = 1, P[PLAN_CAP_COUNT] do
    local cap = {start = P[i + CAP_START], stop = P[i + CAP_END], slide = P[i + CAP_SLIDE],
                 limit = P[i + CAP_LIMIT], counts_exempt = P[i + CAP_COUNTS_EXEMPT] == 1,
                 match = {}, used = 0, sends = {}}
    any_counts_exempt = any_counts_exempt or cap.counts_exempt
    local matches = P[i + CAP_MATCH_COUNT]
    i = i + CAP_HEAD
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
  -- each cap's sends (few: caps keep them few) to find its room.
  local function count(blob, blob_is_exempt)
    for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
      local at, f1, f2, f3, f4, f5, w, denied = struct.unpack(RECORD_SCAN, blob, pos)
      if denied == 0 then
        fields[1], fields[2], fields[3], fields[4], fields[5] = f1, f2, f3, f4, f5
        for _, cap in ipairs(caps) do
          if (cap.counts_exempt or not blob_is_exempt) and at >= cap.start and at < cap.stop and
              matches(cap) then
            cap.used = cap.used + w
            cap.sends[#cap.sends + 1] = {at, w}
          end
        end
      end
    end
  end
  if #caps > 0 then count(main, false) end
  if any_counts_exempt then
    exempt = redis.call('GET', KEYS[KEY_EXEMPT]) or ''
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

  local latest = nil
  for _, cap in ipairs(caps) do
    local at = nil
    if cap.used + weight > cap.limit then at = room(cap) end
    reply[#reply + 1] = cap.used
    reply[#reply + 1] = at or ROOM_NOW
    if at ~= nil and latest ~= NEVER then
      if at == NEVER or latest == nil or at > latest then latest = at end
    end
  end
  return latest
end

-- The history-based rules, in order. Each appends its part of the reply and returns when the
-- message may go as far as it is concerned: nil (now), NEVER, or an instant in ms.
local RULES = {check_caps}

local reply = {ALLOWED, 0, 0}
local retry = nil
for _, rule in ipairs(RULES) do
  local at = rule(reply)
  if at ~= nil and retry ~= NEVER then
    if at == NEVER or retry == nil or at > retry then retry = at end
  end
end

local denied = 0
if retry ~= nil then
  reply[REPLY_AT] = retry
  reply[REPLY_OUTCOME] = (retry ~= NEVER and retry <= deny_after) and DEFERRED or DENIED
  if reply[REPLY_OUTCOME] == DEFERRED then return reply end
  denied = P[PLAN_DENY_CODE]
end

-- Appends `record` to a list {key, n records, first_at, load() -> its whole content, and
-- whether it may hold denials}; rewrites the list when its first record is older than
-- trim_before or a bound is passed: without records older than keep_after, and without the
-- oldest of a kind beyond its bound, down to its floor. A short list is written whole with SET
-- (exact allocation: memory per contact stays small); a long one is appended to (its write
-- stays small, and it is not read). The key never expires before retention after its latest
-- record.
local function append(list, record, record_denied_code)
  local counted, denials = list.n, 0
  if list.may_hold_denials then
    local blob = list.load()
    for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
      if record_denied(blob, pos) ~= 0 then denials = denials + 1 end
    end
    counted = list.n - denials
  end
  if record_denied_code == 0 then counted = counted + 1 else denials = denials + 1 end
  local trim = list.n > 0 and list.first_at < trim_before
  local over = counted > MAX_COUNTED or denials > MAX_DENIED
  if not trim and not over then
    if list.n >= SET_UP_TO then
      redis.call('APPEND', list.key, record)
      redis.call('PEXPIRE', list.key, math.max(send_at + retention - now, 1000), 'GT')
    else
      local blob, latest = list.load(), send_at
      for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
        local at = record_at(blob, pos)
        if at > latest then latest = at end
      end
      redis.call('SET', list.key, blob .. record, 'PX', math.max(latest + retention - now, 1000))
    end
    return
  end

  local blob = list.load()
  local kept = {}
  for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
    if record_at(blob, pos) >= keep_after then
      kept[#kept + 1] = {pos = pos, denied = record_denied(blob, pos) ~= 0}
    end
  end
  kept[#kept + 1] = {raw = record, denied = record_denied_code ~= 0}
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
      local at = record_at(raw, 1)
      if at > latest then latest = at end
      parts[#parts + 1] = raw
    end
  end
  redis.call('SET', list.key, table.concat(parts), 'PX', math.max(latest + retention - now, 1000))
end

local record = pack_record({AT = send_at, HASH_LOW = lo, HASH_HIGH = hi,
                            CHANNEL = P[PLAN_CHANNEL], CATEGORY = P[PLAN_CATEGORY],
                            SUBSCRIPTION = P[PLAN_SUBSCRIPTION], PROGRAM = P[PLAN_PROGRAM],
                            CAMPAIGN = P[PLAN_CAMPAIGN], WEIGHT = weight,
                            PRIORITY = P[PLAN_PRIORITY], DENIED = denied})
local function first_at(blob)
  return #blob > 0 and record_at(blob, 1) or nil
end
if denied == 0 and is_exempt then
  local n = (exempt and #exempt or redis.call('STRLEN', KEYS[KEY_EXEMPT])) / RECORD_BYTES
  append({key = KEYS[KEY_EXEMPT], n = n,
          first_at = n > 0 and
              first_at(exempt or redis.call('GETRANGE', KEYS[KEY_EXEMPT], 0, RECORD_BYTES - 1)),
          load = function()
            exempt = exempt or redis.call('GET', KEYS[KEY_EXEMPT]) or ''
            return exempt
          end}, record, denied)
else
  append({key = KEYS[KEY_MAIN], n = #main / RECORD_BYTES, first_at = first_at(main),
          load = function() return main end, may_hold_denials = true}, record, denied)
end
return reply
