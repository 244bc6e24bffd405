-- decide.lua: one decision for one contact, atomic: the replay lookup, then each rule on the
-- contact's stored state in order (opt-outs, consent, pause, the contact's own frequency,
-- caps), then the record of the send when every rule lets it go now, or of its denial.
-- Policy-agnostic: service/core compiles the plan; service/core/history.cc and
-- preference_rules.cc state the same rules in C++ and the tests hold this script to them.
-- Positions, outcomes, codes, sentinels and bounds (PLAN_*, CAP_*, REPLY_*, VERDICT_*,
-- C.RECORD*, PREF_*, C.NEVER ...) come from contract.lua, generated from
-- service/store/script_contract.h.
-- KEYS[C.KEY_MAIN]         the main history, sg:{<contact>}:h: sends of capped categories, denials
-- KEYS[C.KEY_EXEMPT]       the exempt history, sg:{<contact>}:e: sends of categories exempt from caps
-- KEYS[C.KEY_PREFERENCES]  the stored preferences, sg:{<contact>}:p
-- KEYS[C.KEY_SUPPRESSION]  the suppression list of the contact's slot (read only when the contact
--                        has no stored preferences)
-- ARGV[C.ARG_PLAN]  the plan, a JSON array of numbers (one cjson.decode is cheaper than an
--                 argument each, and it stays text that redis-cli, MONITOR and redis-benchmark
--                 show as is)
-- ARGV[C.ARG_SUPPRESSION_HASH]  the contact's keyed hash in the suppression list, or ''
-- Returns, for a message id already decided: {C.REPLAY_ALLOWED or C.REPLAY_DENIED, the first
-- decision's time, its denied code}; when the request left the time zone or segments out and
-- the stored profile is not the one the plan was made with: {C.PROFILE_CHANGED, 0, 0, profile};
-- otherwise {C.ALLOWED, 0, 0}, {C.DEFERRED, retry, 0} or {C.DENIED, retry or C.NEVER, reason code},
-- then each cap's (used, room) (room: C.ROOM_NOW, C.NEVER or the instant, in ms, it has room for
-- the message), then the number of verdicts of the other rules and each as
-- (code, at, used, limit, detail).

-- A busy contact's exempt list can be long: it is read whole only when a cap counts it, when
-- it is short, or when it is rewritten.
local P = cjson.decode(ARGV[1])
local lo, hi = P[C.PLAN_HASH_LOW], P[C.PLAN_HASH_HIGH]
local is_exempt = P[C.PLAN_EXEMPT] == 1
local main = redis.call('GET', KEYS[C.KEY_MAIN]) or ''
local searched = {main}
if is_exempt then
  searched[2] = redis.call('GETRANGE', KEYS[C.KEY_EXEMPT], -C.EXEMPT_REPLAY_DEPTH * C.RECORD_BYTES, -1)
end
for _, blob in ipairs(searched) do
  local first = find_message(blob, lo, hi)
  if first then
    local denied = record_denied(blob, first)
    return {denied == 0 and C.REPLAY_ALLOWED or C.REPLAY_DENIED, record_at(blob, first), denied}
  end
end

local send_at, weight = P[C.PLAN_SEND_AT], P[C.PLAN_WEIGHT]
local channel, subscription = P[C.PLAN_CHANNEL], P[C.PLAN_SUBSCRIPTION]
local deny_after, keep_after, trim_before = P[C.PLAN_DENY_AFTER], P[C.PLAN_KEEP_AFTER],
                                            P[C.PLAN_TRIM_BEFORE]
local retention, now = P[C.PLAN_RETENTION], P[C.PLAN_NOW]
local exempt = nil  -- the whole exempt list, once read

-- The contact's stored preferences; for a contact with none, its suppression entry if it was
-- forgotten.
local prefs = nil
local stored = redis.call('GET', KEYS[C.KEY_PREFERENCES])
if stored then
  prefs = read_preferences(stored)
elseif ARGV[C.ARG_SUPPRESSION_HASH] ~= '' then
  local entry = redis.call('HGET', KEYS[C.KEY_SUPPRESSION], ARGV[C.ARG_SUPPRESSION_HASH])
  if entry then prefs = read_preferences(entry) end
end
local function changed(planned, actual)
  return planned >= 0 and planned ~= actual
end
if changed(P[C.PLAN_TZ_FP], prefs and prefs.tz_fp or 0) or
    changed(P[C.PLAN_SEGMENTS_FP], prefs and prefs.seg_fp or 0) then
  return {C.PROFILE_CHANGED, 0, 0, prefs and prefs.profile or '\0\0'}
end

-- What holds the message back: the verdicts of the rules on preferences, in rule order, and
-- the room of each cap of the plan.
local verdicts = {}
local function verdict(code, at, used, limit, detail)
  verdicts[#verdicts + 1] = {code, at, used or 0, limit or 0, detail or 0}
end
local caps = {}

-- Rule: opt-outs. A suppressed (forgotten) contact, a global opt-out, a blocked channel.
local function check_opt_out()
  if not prefs then return end
  local exempt_opt_out = P[C.PLAN_EXEMPT_OPT_OUT] == 1
  if prefs.suppressed and not exempt_opt_out then verdict(C.REASON_SUPPRESSED, C.NEVER) end
  if prefs.opt_out and not exempt_opt_out then verdict(C.REASON_OPTED_OUT, C.NEVER) end
  local block = prefs.blocks[channel]
  if block and (block == C.BLOCK_HARD_BOUNCE or block == C.BLOCK_COMPLAINT or not exempt_opt_out) then
    verdict(C.REASON_CHANNEL_BLOCKED, C.NEVER, 0, 0, block)
  end
end

-- Rule: consent to the message's subscription on its channel.
local function check_consent()
  if subscription == 0 or P[C.PLAN_EXEMPT_SUBSCRIPTIONS] == 1 then return end
  local choice = nil
  if prefs then choice = prefs.subscriptions[subscription * 65536 + channel] end
  if choice == false then
    verdict(C.REASON_UNSUBSCRIBED, C.NEVER)
  elseif choice == nil and P[C.PLAN_OPT_IN] == 1 then
    verdict(C.REASON_NOT_OPTED_IN, C.NEVER)
  end
end

-- Rule: a pause that lasts past the send.
local function check_pause()
  if prefs and P[C.PLAN_EXEMPT_PAUSE] == 0 and prefs.pause_until > send_at then
    verdict(C.REASON_PAUSED, prefs.pause_until)
  end
end

-- The contact's own maximum on the channel as a cap to count, or nil.
local function contact_cap(first_category)
  if not prefs or P[C.PLAN_EXEMPT_FREQUENCY] == 1 then return nil end
  local own = prefs.frequency[channel]
  if not own then return nil end
  local cap = {limit = own.limit, counts_exempt = P[C.PLAN_FREQUENCY_COUNTS_EXEMPT] == 1,
               used = 0, sends = {}}
  if own.kind == C.WINDOW_ROLLING then  -- as core::BoundsAt: every window around the send
    cap.start, cap.stop, cap.slide = send_at - own.length + 1, send_at + own.length, own.length
  elseif own.kind == C.WINDOW_DAY then
    cap.start, cap.stop, cap.slide = P[C.PLAN_DAY_START], P[C.PLAN_DAY_END], 0
  elseif own.kind == C.WINDOW_WEEK then
    cap.start, cap.stop, cap.slide = P[C.PLAN_WEEK_START], P[C.PLAN_WEEK_END], 0
  else
    cap.start, cap.stop, cap.slide = P[C.PLAN_MONTH_START], P[C.PLAN_MONTH_END], 0
  end
  local categories = {}
  for k = 1, P[first_category] do categories[P[first_category + k]] = true end
  cap.match = {{field = 1, ids = {[channel] = true}}, {field = 2, ids = categories}}
  return cap
end

-- Rules: caps, and the contact's own frequency. Counts each cap's matching sends in its
-- window and finds when it has room.
local function check_caps()
  local any_counts_exempt = false
  local i = C.PLAN_HEAD + 1
  for c = 1, P[C.PLAN_CAP_COUNT] do
    local cap = {start = P[i + C.CAP_START], stop = P[i + C.CAP_END], slide = P[i + C.CAP_SLIDE],
                 limit = P[i + C.CAP_LIMIT], counts_exempt = P[i + C.CAP_COUNTS_EXEMPT] == 1,
                 match = {}, used = 0, sends = {}}
    local matches = P[i + C.CAP_MATCH_COUNT]
    i = i + C.CAP_HEAD
    for _ = 1, matches do
      local m = {field = P[i], ids = {}}
      for k = 1, P[i + 1] do m.ids[P[i + 1 + k]] = true end
      i = i + 2 + P[i + 1]
      cap.match[#cap.match + 1] = m
    end
    caps[c] = cap
  end
  local counted = {}  -- the caps of the plan, then the contact's own
  for c = 1, #caps do counted[c] = caps[c] end
  local own = contact_cap(i)
  if own then counted[#counted + 1] = own end
  for _, cap in ipairs(counted) do any_counts_exempt = any_counts_exempt or cap.counts_exempt end

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
    local bytes, scan = C.RECORD_BYTES, C.RECORD_SCAN
    for pos = 1, #blob - bytes + 1, bytes do
      local at, f1, f2, f3, f4, f5, w, denied = struct.unpack(scan, blob, pos)
      if denied == 0 then
        fields[1], fields[2], fields[3], fields[4], fields[5] = f1, f2, f3, f4, f5
        for _, cap in ipairs(counted) do
          if (cap.counts_exempt or not blob_is_exempt) and at >= cap.start and at < cap.stop and
              matches(cap) then
            cap.used = cap.used + w
            cap.sends[#cap.sends + 1] = {at, w}
          end
        end
      end
    end
  end
  if #counted > 0 then count(main, false) end
  if any_counts_exempt then
    exempt = redis.call('GET', KEYS[C.KEY_EXEMPT]) or ''
    count(exempt, true)
  end

  -- When a full cap has room for `weight` more: its window's end (calendar), or `slide` after
  -- the counted send whose leaving makes enough room (rolling); C.NEVER when weight > limit.
  local function room(cap)
    if weight > cap.limit then return C.NEVER end
    if cap.slide == 0 then return cap.stop end
    table.sort(cap.sends, function(a, b) return a[1] < b[1] end)
    local left = cap.used
    for _, s in ipairs(cap.sends) do
      left = left - s[2]
      if left + weight <= cap.limit then return s[1] + cap.slide end
    end
    return C.NEVER
  end
  for _, cap in ipairs(counted) do
    if cap.used + weight > cap.limit then cap.room = room(cap) end
  end
  if own and own.room then
    verdict(C.REASON_CONTACT_FREQUENCY, own.room, own.used, own.limit)
  end
end

-- The rules, in order; each records what holds the message back.
local RULES = {check_opt_out, check_consent, check_pause, check_caps}
for _, rule in ipairs(RULES) do rule() end

-- The latest instant wins; the first rule (verdicts in order, then caps) that cannot be met
-- by deny_after names the denial.
local reply = {C.ALLOWED, 0, 0}
local retry, denied = nil, 0
local function hold(at, code)
  if retry ~= C.NEVER and (at == C.NEVER or retry == nil or at > retry) then retry = at end
  if denied == 0 and (at == C.NEVER or at > deny_after) then denied = code end
end
for _, v in ipairs(verdicts) do hold(v[2], v[1]) end
for _, cap in ipairs(caps) do
  reply[#reply + 1] = cap.used
  reply[#reply + 1] = cap.room or C.ROOM_NOW
  if cap.room then hold(cap.room, C.REASON_CAP_REACHED) end
end
reply[#reply + 1] = #verdicts
for _, v in ipairs(verdicts) do
  for k = 1, C.VERDICT_SIZE do reply[#reply + 1] = v[k] end
end
if retry ~= nil then
  reply[C.REPLY_AT] = retry
  if denied == 0 then
    reply[C.REPLY_OUTCOME] = C.DEFERRED
    return reply
  end
  reply[C.REPLY_OUTCOME] = C.DENIED
  reply[C.REPLY_CODE] = denied
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
    for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
      if record_denied(blob, pos) ~= 0 then denials = denials + 1 end
    end
    counted = list.n - denials
  end
  if record_denied_code == 0 then counted = counted + 1 else denials = denials + 1 end
  local trim = list.n > 0 and list.first_at < trim_before
  local over = counted > C.MAX_COUNTED or denials > C.MAX_DENIED
  if not trim and not over then
    if list.n >= C.SET_UP_TO then
      redis.call('APPEND', list.key, record)
      redis.call('PEXPIRE', list.key, math.max(send_at + retention - now, 1000), 'GT')
    else
      local blob, latest = list.load(), send_at
      for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
        local at = record_at(blob, pos)
        if at > latest then latest = at end
      end
      redis.call('SET', list.key, blob .. record, 'PX', math.max(latest + retention - now, 1000))
    end
    return
  end

  local blob = list.load()
  local kept = {}
  for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
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
  drop_oldest(false, C.MAX_COUNTED, C.COUNTED_FLOOR)
  drop_oldest(true, C.MAX_DENIED, C.DENIED_FLOOR)
  local parts, latest = {}, send_at
  for _, r in ipairs(kept) do
    if not r.gone then
      local raw = r.raw or string.sub(blob, r.pos, r.pos + C.RECORD_BYTES - 1)
      local at = record_at(raw, 1)
      if at > latest then latest = at end
      parts[#parts + 1] = raw
    end
  end
  redis.call('SET', list.key, table.concat(parts), 'PX', math.max(latest + retention - now, 1000))
end

local record = pack_record({AT = send_at, HASH_LOW = lo, HASH_HIGH = hi,
                            CHANNEL = P[C.PLAN_CHANNEL], CATEGORY = P[C.PLAN_CATEGORY],
                            SUBSCRIPTION = P[C.PLAN_SUBSCRIPTION], PROGRAM = P[C.PLAN_PROGRAM],
                            CAMPAIGN = P[C.PLAN_CAMPAIGN], WEIGHT = weight,
                            PRIORITY = P[C.PLAN_PRIORITY], DENIED = denied})
local function first_at(blob)
  return #blob > 0 and record_at(blob, 1) or nil
end
if denied == 0 and is_exempt then
  local n = (exempt and #exempt or redis.call('STRLEN', KEYS[C.KEY_EXEMPT])) / C.RECORD_BYTES
  append({key = KEYS[C.KEY_EXEMPT], n = n,
          first_at = n > 0 and
              first_at(exempt or redis.call('GETRANGE', KEYS[C.KEY_EXEMPT], 0, C.RECORD_BYTES - 1)),
          load = function()
            exempt = exempt or redis.call('GET', KEYS[C.KEY_EXEMPT]) or ''
            return exempt
          end}, record, denied)
else
  append({key = KEYS[C.KEY_MAIN], n = #main / C.RECORD_BYTES, first_at = first_at(main),
          load = function() return main end, may_hold_denials = true}, record, denied)
end
return reply
