-- decide.lua: one decision for one contact, atomic: the replay lookup, then each rule on the
-- contact's stored state in order (opt-outs, consent, pause, the contact's own frequency,
-- caps), then the record of the send when every rule lets it go now, or of its denial.
-- Policy-agnostic: service/core compiles the plan; service/core/history.cc and
-- preference_rules.cc state the same rules in C++ and the tests hold this script to them.
-- Positions, outcomes, codes, sentinels and bounds (PLAN_*, CAP_*, REPLY_*, VERDICT_*,
-- RECORD*, PREF_*, NEVER ...) come from contract.lua, generated from
-- service/store/script_contract.h.
-- KEYS[KEY_MAIN]         the main history, sg:{<contact>}:h: sends of capped categories, denials
-- KEYS[KEY_EXEMPT]       the exempt history, sg:{<contact>}:e: sends of categories exempt from caps
-- KEYS[KEY_PREFERENCES]  the stored preferences, sg:{<contact>}:p
-- KEYS[KEY_SUPPRESSION]  the suppression list of the contact's slot (read only when the contact
--                        has no stored preferences)
-- ARGV[ARG_PLAN]  the plan, a JSON array of numbers (one cjson.decode is cheaper than an
--                 argument each, and it stays text that redis-cli, MONITOR and redis-benchmark
--                 show as is)
-- ARGV[ARG_SUPPRESSION_HASH]  the contact's keyed hash in the suppression list, or ''
-- Returns, for a message id already decided: {REPLAY_ALLOWED or REPLAY_DENIED, the first
-- decision's time, its denied code}; when the request left the time zone or segments out and
-- the stored profile is not the one the plan was made with: {PROFILE_CHANGED, 0, 0, profile};
-- otherwise {ALLOWED, 0, 0}, {DEFERRED, retry, 0} or {DENIED, retry or NEVER, reason code},
-- then each cap's (used, room) (room: ROOM_NOW, NEVER or the instant, in ms, it has room for
-- the message), then the number of verdicts of the other rules and each as
-- (code, at, used, limit, detail).

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
local channel, subscription = P[PLAN_CHANNEL], P[PLAN_SUBSCRIPTION]
local deny_after, keep_after, trim_before = P[PLAN_DENY_AFTER], P[PLAN_KEEP_AFTER],
                                            P[PLAN_TRIM_BEFORE]
local retention, now = P[PLAN_RETENTION], P[PLAN_NOW]
local exempt = nil  -- the whole exempt list, once read

-- The contact's stored preferences; for a contact with none, its suppression entry if it was
-- forgotten.
local prefs = nil
local stored = redis.call('GET', KEYS[KEY_PREFERENCES])
if stored then
  prefs = read_preferences(stored)
elseif ARGV[ARG_SUPPRESSION_HASH] ~= '' then
  local entry = redis.call('HGET', KEYS[KEY_SUPPRESSION], ARGV[ARG_SUPPRESSION_HASH])
  if entry then prefs = read_preferences(entry) end
end
local function changed(planned, actual)
  return planned >= 0 and planned ~= actual
end
if changed(P[PLAN_TZ_FP], prefs and prefs.tz_fp or 0) or
    changed(P[PLAN_SEGMENTS_FP], prefs and prefs.seg_fp or 0) then
  return {PROFILE_CHANGED, 0, 0, prefs and prefs.profile or '\0\0'}
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
  local exempt_opt_out = P[PLAN_EXEMPT_OPT_OUT] == 1
  if prefs.suppressed and not exempt_opt_out then verdict(REASON_SUPPRESSED, NEVER) end
  if prefs.opt_out and not exempt_opt_out then verdict(REASON_OPTED_OUT, NEVER) end
  local block = prefs.blocks[channel]
  if block and (block == BLOCK_HARD_BOUNCE or block == BLOCK_COMPLAINT or not exempt_opt_out) then
    verdict(REASON_CHANNEL_BLOCKED, NEVER, 0, 0, block)
  end
end

-- Rule: consent to the message's subscription on its channel.
local function check_consent()
  if subscription == 0 or P[PLAN_EXEMPT_SUBSCRIPTIONS] == 1 then return end
  local choice = nil
  if prefs then choice = prefs.subscriptions[subscription * 65536 + channel] end
  if choice == false then
    verdict(REASON_UNSUBSCRIBED, NEVER)
  elseif choice == nil and P[PLAN_OPT_IN] == 1 then
    verdict(REASON_NOT_OPTED_IN, NEVER)
  end
end

-- Rule: a pause that lasts past the send.
local function check_pause()
  if prefs and P[PLAN_EXEMPT_PAUSE] == 0 and prefs.pause_until > send_at then
    verdict(REASON_PAUSED, prefs.pause_until)
  end
end

-- The contact's own maximum on the channel as a cap to count, or nil.
local function contact_cap(first_category)
  if not prefs or P[PLAN_EXEMPT_FREQUENCY] == 1 then return nil end
  local own = prefs.frequency[channel]
  if not own then return nil end
  local cap = {limit = own.limit, counts_exempt = P[PLAN_FREQUENCY_COUNTS_EXEMPT] == 1,
               used = 0, sends = {}}
  if own.kind == WINDOW_ROLLING then  -- as core::BoundsAt: every window around the send
    cap.start, cap.stop, cap.slide = send_at - own.length + 1, send_at + own.length, own.length
  elseif own.kind == WINDOW_DAY then
    cap.start, cap.stop, cap.slide = P[PLAN_DAY_START], P[PLAN_DAY_END], 0
  elseif own.kind == WINDOW_WEEK then
    cap.start, cap.stop, cap.slide = P[PLAN_WEEK_START], P[PLAN_WEEK_END], 0
  else
    cap.start, cap.stop, cap.slide = P[PLAN_MONTH_START], P[PLAN_MONTH_END], 0
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
  local i = PLAN_HEAD + 1
  for c = 1, P[PLAN_CAP_COUNT] do
    local cap = {start = P[i + CAP_START], stop = P[i + CAP_END], slide = P[i + CAP_SLIDE],
                 limit = P[i + CAP_LIMIT], counts_exempt = P[i + CAP_COUNTS_EXEMPT] == 1,
                 match = {}, used = 0, sends = {}}
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
    for pos = 1, #blob - RECORD_BYTES + 1, RECORD_BYTES do
      local at, f1, f2, f3, f4, f5, w, denied = struct.unpack(RECORD_SCAN, blob, pos)
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
  for _, cap in ipairs(counted) do
    if cap.used + weight > cap.limit then cap.room = room(cap) end
  end
  if own and own.room then
    verdict(REASON_CONTACT_FREQUENCY, own.room, own.used, own.limit)
  end
end

-- The rules, in order; each records what holds the message back.
local RULES = {check_opt_out, check_consent, check_pause, check_caps}
for _, rule in ipairs(RULES) do rule() end

-- The latest instant wins; the first rule (verdicts in order, then caps) that cannot be met
-- by deny_after names the denial.
local reply = {ALLOWED, 0, 0}
local retry, denied = nil, 0
local function hold(at, code)
  if retry ~= NEVER and (at == NEVER or retry == nil or at > retry) then retry = at end
  if denied == 0 and (at == NEVER or at > deny_after) then denied = code end
end
for _, v in ipairs(verdicts) do hold(v[2], v[1]) end
for _, cap in ipairs(caps) do
  reply[#reply + 1] = cap.used
  reply[#reply + 1] = cap.room or ROOM_NOW
  if cap.room then hold(cap.room, REASON_CAP_REACHED) end
end
reply[#reply + 1] = #verdicts
for _, v in ipairs(verdicts) do
  for k = 1, VERDICT_SIZE do reply[#reply + 1] = v[k] end
end
if retry ~= nil then
  reply[REPLY_AT] = retry
  if denied == 0 then
    reply[REPLY_OUTCOME] = DEFERRED
    return reply
  end
  reply[REPLY_OUTCOME] = DENIED
  reply[REPLY_CODE] = denied
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
