-- decide.lua: one decision for one contact, atomic: the replay lookup, then each rule on the
-- contact's stored state in order (opt-outs, consent, pause, the contact's own frequency,
-- caps, capacity), then the record of the send when every rule lets it go now (and its count on
-- the capacity counters), or of its denial.
-- Policy-agnostic: service/core compiles the plan; service/core/history.cc and
-- preference_rules.cc state the same rules in C++ and the tests hold this function to them.
-- Positions, outcomes, codes, sentinels and bounds (PLAN_*, CAP_*, REPLY_*, VERDICT_*,
-- C.RECORD*, PREF_*, C.NEVER ...) come from contract.lua, generated from
-- service/store/script_contract.h.
-- Every function here is made once, when the library is loaded, and a decision's state is a
-- table `d` passed along: closures made anew on each call would cost more than the rules.
-- keys[C.KEY_MAIN]         the main history, sg:{<contact>}:h2: sends of capped categories, denials
-- keys[C.KEY_EXEMPT]       the exempt history, sg:{<contact>}:e2: sends of categories exempt from caps
-- keys[C.KEY_PREFERENCES]  the stored preferences, sg:{<contact>}:p
-- keys[C.KEY_SUPPRESSION]  the suppression list of the contact's slot (read only when the contact
--                        has no stored preferences)
-- keys[C.KEY_V1_MAIN], keys[C.KEY_V1_EXEMPT]  the histories as a version before editions kept
--                        them: moved to the two above (with_v1_histories, history.lua)
-- keys[C.KEY_PLANNED]      the contact's planned sends (plan.lua), sg:{<contact>}:l: the caps keep
--                        room for those that outrank the message; a decided message consumes
--                        its own
-- keys[...]              the plan's capacity counters, then the shadow plan's (the plan names
--                        each by its position)
-- args[C.ARG_PLAN]  the plan, its numbers packed (C.PLAN_NUMBER_FORMAT each): one struct.unpack
--                 is cheaper than an argument each, and than cjson.decode of the same numbers
--                 as text, which cost a tenth of this function's work (strtod per number)
-- args[C.ARG_SUPPRESSION_HASH]  the contact's keyed hash in the suppression list, or ''
-- args[C.ARG_CAP_SCOPES]  the scopes of the plan's caps, packed as the plan (caps_of)
-- args[C.ARG_SHADOW_PLAN], args[C.ARG_SHADOW_CAP_SCOPES]  absent, or a candidate policy's plan
--                        for the same message and its caps' scopes (shadow mode): evaluated
--                        on the same state, never recorded
-- Returns, for a message id already decided: {C.REPLAY_ALLOWED or C.REPLAY_DENIED, the first
-- decision's time, its denied code}; when the request left the time zone or segments out and
-- the stored profile is not the one the plan was made with: {C.PROFILE_CHANGED, 0, 0, profile};
-- otherwise {C.ALLOWED, 0, 0}, {C.DEFERRED, retry, 0} or {C.DENIED, retry or C.NEVER, reason code},
-- then each cap's and each capacity counter's (used, room, planned) (room: C.ROOM_NOW, C.NEVER or
-- the instant, in ms, it has room for the message; planned: what the planned sends that outrank
-- the message add to used), then the number of verdicts of the other rules and each as
-- (code, at, used, limit, detail). With a shadow plan, a decided message's reply is
-- {that reply, the shadow plan's reply}.

-- decide.lua makes few tables: under the benchmark's traffic, every byte a call allocates
-- costs about 10 instructions of Lua's garbage collector (docs/redis.md, "Lua's costs inside
-- Redis"), more than most of the rules. So a decision's state `d`, its caps and its reply
-- live in tables that every call reuses, each set whole before it is read and used only until
-- the call returns (a Redis function is never re-entered; Redis reads the reply as it returns).

-- The struct format of k plan numbers, made on first use (at load, a library cannot reach
-- `string`).
local plan_formats = {}

local function plan_format(k)
  local format = plan_formats[k]
  if not format then
    format = '<' .. string.rep(C.PLAN_NUMBER_FORMAT, k)
    plan_formats[k] = format
  end
  return format
end

-- The numbers of a plan (or of its caps' scopes) as a table, made anew: one struct.unpack of
-- them all costs less than unpacking into a reused table (a call per few numbers). In pieces
-- when they do not fit Lua's stack at once (PLAN_PIECE numbers; every plan of the example
-- policies does).
local PLAN_PIECE = 200

local function read_plan(bytes)
  local size = C.PLAN_NUMBER_BYTES
  if #bytes % size ~= 0 then error('sendgate: a plan of ' .. #bytes .. ' bytes') end
  local n = #bytes / size
  if n <= PLAN_PIECE then
    local P = {struct_unpack(plan_format(n), bytes)}
    P[n + 1] = nil  -- struct.unpack's last result: the position after the plan
    return P
  end
  local P, pos = {}, 1
  for first = 1, n, PLAN_PIECE do
    local k = math.min(PLAN_PIECE, n - first + 1)
    local piece = {struct_unpack(plan_format(k), bytes, pos)}
    for j = 1, k do P[first + j - 1] = piece[j] end
    pos = piece[k + 1]
  end
  return P
end

-- The reply for a message already decided, found in `blob`, or nil.
local function replay_in(blob, lo, hi)
  local first = find_message(blob, lo, hi)
  if not first then return nil end
  local denied = record_denied(blob, first)
  return {denied == 0 and C.REPLAY_ALLOWED or C.REPLAY_DENIED, record_at(blob, first), denied}
end

-- The contact's stored preferences; for a contact with none, its suppression entry if it was
-- forgotten; or nil.
local function stored_preferences(keys, suppression_hash)
  local stored = call('GET', keys[C.KEY_PREFERENCES])
  if stored then return read_preferences(stored) end
  if suppression_hash == '' then return nil end
  local entry = call('HGET', keys[C.KEY_SUPPRESSION], suppression_hash)
  return entry and read_preferences(entry) or nil
end

-- Whether a fingerprint the plan was made with (-1: none, the request gave the value) is not
-- the stored one.
local function planned_otherwise(planned, actual)
  return planned >= 0 and planned ~= actual
end

-- Notes what holds the message back, for a rule on preferences.
local function add_verdict(d, code, at, used, limit, detail)
  d.verdicts[#d.verdicts + 1] = {code, at, used or 0, limit or 0, detail or 0}
end

-- Rule: opt-outs. A suppressed (forgotten) contact, a global opt-out, a blocked channel.
local function check_opt_out(d)
  local prefs = d.prefs
  if not prefs then return end
  local exempt_opt_out = d.P[C.PLAN_EXEMPT_OPT_OUT] == 1
  if prefs.suppressed and not exempt_opt_out then add_verdict(d, C.REASON_SUPPRESSED, C.NEVER) end
  if prefs.opt_out and not exempt_opt_out then add_verdict(d, C.REASON_OPTED_OUT, C.NEVER) end
  local block = prefs.blocks[d.channel]
  if block and (block == C.BLOCK_HARD_BOUNCE or block == C.BLOCK_COMPLAINT or not exempt_opt_out) then
    add_verdict(d, C.REASON_CHANNEL_BLOCKED, C.NEVER, 0, 0, block)
  end
end

-- Rule: consent to the message's subscription on its channel.
local function check_consent(d)
  local subscription = d.subscription
  if subscription == 0 or d.P[C.PLAN_EXEMPT_SUBSCRIPTIONS] == 1 then return end
  local choice = nil
  if d.prefs then choice = d.prefs.subscriptions[subscription * 65536 + d.channel] end
  if choice == false then
    add_verdict(d, C.REASON_UNSUBSCRIBED, C.NEVER)
  elseif choice == nil and d.P[C.PLAN_OPT_IN] == 1 then
    add_verdict(d, C.REASON_NOT_OPTED_IN, C.NEVER)
  end
end

-- Rule: a pause that lasts past the send, and a pause of the message's channel that does.
local function check_pause(d)
  local prefs = d.prefs
  if not prefs or d.P[C.PLAN_EXEMPT_PAUSE] == 1 then return end
  if prefs.pause_until > d.send_at then add_verdict(d, C.REASON_PAUSED, prefs.pause_until) end
  local channel_pause = prefs.channel_pauses[d.channel]
  if channel_pause and channel_pause > d.send_at then
    add_verdict(d, C.REASON_PAUSED, channel_pause, 0, 0, C.PAUSE_OF_CHANNEL)
  end
end

-- A cap while a decision is checked: an array with the slots named below and no hash part
-- (named fields cost a hashed insertion each, more than the rest of a cap's work). Its scope:
-- from slot FIRST_MATCH to slot LAST_MATCH, two slots for each field it matches: the field's
-- number, and the set of the ids it accepts ({[id] = true}). SENDS: the sends it counts, each
-- {at, weight}, made when one matches (false before); SCHEDULED: one of them is after the
-- check; ROOM: when the message fits, if it does not now (false: now).
local START = 1
local STOP = 2
local SLIDE = 3
local LIMIT = 4
local COUNTS_EXEMPT = 5
local USED = 6
local SENDS = 7
local SCHEDULED = 8
local ROOM = 9
local PLANNED = 10
local LAST_MATCH = 11
local FIRST_MATCH = 12

-- The caps of a plan's scopes (args[C.ARG_CAP_SCOPES]): what a cap holds that the send's time
-- does not change, compiled once for each distinct string of scopes and kept (a policy has
-- few: one per kind of message) in `compiled_scopes`. Compiling costs about what reading the
-- scopes from the plan on every call cost before; a call whose scopes were seen costs one
-- lookup (the argument is a string Redis interned already). At most SCOPES_KEPT are kept: the
-- next one empties the table, so that a policy with very many (caps per campaign) costs its
-- compiling on every call and no more memory. The caps' state (slots START and USED to
-- PLANNED) is set by each call that uses them before it is read (plan_caps): a Redis function
-- is never re-entered, and a plan and its shadow are evaluated one after the other.
local SCOPES_KEPT = 1024
local compiled_scopes, scopes_kept = {}, 0

-- The scopes `S` (their numbers) as caps; caps.counts_exempt: one of them counts the sends of
-- exempt categories.
local function compile_caps(S)
  local caps, i = {counts_exempt = false}, 1
  while i <= #S do
    local cap = {0, 0, S[i + C.SCOPE_SLIDE], S[i + C.SCOPE_LIMIT],
                 S[i + C.SCOPE_COUNTS_EXEMPT] == 1, 0, false, false, false, 0, FIRST_MATCH - 2}
    local at = i + C.SCOPE_HEAD
    for _ = 1, S[i + C.SCOPE_MATCH_COUNT] do
      local accepted, last = {}, at + 1 + S[at + 1]  -- the match at `at`: field, count, ids
      for k = at + 2, last do accepted[S[k]] = true end
      local slot = cap[LAST_MATCH] + 2
      cap[slot], cap[slot + 1], cap[LAST_MATCH] = S[at], accepted, slot
      at = last + 1
    end
    caps[#caps + 1] = cap
    caps.counts_exempt = caps.counts_exempt or cap[COUNTS_EXEMPT]
    i = at
  end
  if i ~= #S + 1 then error('sendgate: cap scopes of ' .. #S .. ' numbers end at ' .. i) end
  return caps
end

-- The caps of `scopes` (a plan's ARGV C.ARG_CAP_SCOPES, or its shadow's), compiled or found.
local function caps_of(scopes)
  local caps = compiled_scopes[scopes]
  if caps then return caps end
  caps = compile_caps(read_plan(scopes))
  if scopes_kept == SCOPES_KEPT then compiled_scopes, scopes_kept = {}, 0 end
  compiled_scopes[scopes], scopes_kept = caps, scopes_kept + 1
  return caps
end

-- Sets the windows of the plan's `caps` from the plan and clears what counting adds to (ROOM
-- and PLANNED are set by check_caps for every cap); returns the position in the plan after
-- the windows.
local function plan_caps(P, caps)
  if #caps ~= P[C.PLAN_CAP_COUNT] then
    error('sendgate: a plan of ' .. P[C.PLAN_CAP_COUNT] .. ' caps with ' .. #caps .. ' scopes')
  end
  local i = C.PLAN_HEAD + 1
  for c = 1, #caps do
    local cap = caps[c]
    cap[START], cap[STOP] = P[i + C.CAP_START], P[i + C.CAP_END]
    cap[USED], cap[SENDS], cap[SCHEDULED] = 0, false, false
    i = i + C.CAP_SIZE
  end
  return i
end

-- The position in the plan after the contact's own frequency's categories: the capacity
-- counters' count.
local function capacity_position(P, after_caps)
  return after_caps + 1 + P[after_caps]
end

-- The contact's own maximum on the channel as a cap to count, or nil. Its categories are
-- listed in the plan from `first_category`.
local function contact_cap(d, first_category)
  local P = d.P
  if not d.prefs or P[C.PLAN_EXEMPT_FREQUENCY] == 1 then return nil end
  local own = d.prefs.frequency[d.channel]
  if not own then return nil end
  local start, stop, slide
  if own.kind == C.WINDOW_ROLLING then  -- as core::BoundsAt: every window around the send
    start, stop, slide = d.send_at - own.length + 1, d.send_at + own.length, own.length
  elseif own.kind == C.WINDOW_DAY then
    start, stop, slide = P[C.PLAN_DAY_START], P[C.PLAN_DAY_END], 0
  elseif own.kind == C.WINDOW_WEEK then
    start, stop, slide = P[C.PLAN_WEEK_START], P[C.PLAN_WEEK_END], 0
  else
    start, stop, slide = P[C.PLAN_MONTH_START], P[C.PLAN_MONTH_END], 0
  end
  local categories = {}
  for k = first_category + 1, first_category + P[first_category] do categories[P[k]] = true end
  return {start, stop, slide, own.limit, P[C.PLAN_FREQUENCY_COUNTS_EXEMPT] == 1, 0, false, false,
          false, 0, FIRST_MATCH + 2,
          1, {[d.channel] = true},  -- the message's channel
          2, categories}
end

-- Whether the record whose ids are `fields` is in the scope of `cap`.
local function cap_matches(cap, fields)
  for m = FIRST_MATCH, cap[LAST_MATCH], 2 do
    if not cap[m + 1][fields[cap[m]]] then return false end
  end
  return true
end

local record_ids = {}  -- reused: the ids of the record count() looks at

-- Adds the counted sends of `blob` to the usage of the `counted` caps that count that list,
-- and keeps each cap's sends (few: caps keep them few) to find its room. Returns, for the
-- record of the decision, the time of the list's latest record and its number of denials.
local function count(counted, blob, blob_is_exempt)
  local fields = record_ids
  local latest, denials = 0, 0
  for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
    local at = struct_unpack(C.AT_FORMAT, blob, pos + C.AT_OFFSET)
    if at > latest then latest = at end
    if byte(blob, pos + C.DENIED_OFFSET) ~= 0 then  -- a denial: counts in no cap
      denials = denials + 1
    else
      local f1, f2, f3, f4, f5, f6, w = struct_unpack(C.RECORD_IDS, blob, pos + C.CHANNEL_OFFSET)
      fields[1], fields[2], fields[3], fields[4], fields[5], fields[6] = f1, f2, f3, f4, f5, f6
      local send  -- {at, w}, made once for every cap that counts it
      for k = 1, #counted do
        local cap = counted[k]
        local start, stop, slide = cap[START], cap[STOP], cap[SLIDE]
        if (cap[COUNTS_EXEMPT] or not blob_is_exempt) and at >= start and
            (at < stop or slide > 0) and cap_matches(cap, fields) then
          -- A rolling cap keeps the sends scheduled beyond its span too: later windows reach
          -- them (scheduled_room).
          if at < stop then cap[USED] = cap[USED] + w end
          if at > start + slide - 1 then cap[SCHEDULED] = slide > 0 end
          send = send or {at, w}
          local sends = cap[SENDS]
          if sends then
            sends[#sends + 1] = send
          else
            cap[SENDS] = {send}
          end
        end
      end
    end
  end
  return latest, denials
end

-- A cap's sends: none until one matched it.
local NO_SENDS = {}  -- shared, never written

local function earlier(a, b)
  return a[1] < b[1]
end

-- Sorts `sends` by time. They are in the order of the history, which is their order in time
-- but for sends scheduled ahead: the sort (a Lua call per comparison) is skipped when they
-- are in order already.
local function sort_by_time(sends)
  for i = 2, #sends do
    if sends[i][1] < sends[i - 1][1] then
      table.sort(sends, earlier)
      return
    end
  end
end

-- When a full cap has room for `weight` more, its `sends` weighing `used` in its window: its
-- window's end (calendar), or `slide` after the counted send whose leaving makes enough room
-- (rolling); C.NEVER when weight > limit.
local function room(cap, sends, used, weight)
  local limit, slide = cap[LIMIT], cap[SLIDE]
  if weight > limit then return C.NEVER end
  if slide == 0 then return cap[STOP] end
  sort_by_time(sends)
  local left = used
  for k = 1, #sends do
    local s = sends[k]
    left = left - s[2]
    if left + weight <= limit then return s[1] + slide end
  end
  return C.NEVER
end

-- Rolling caps with sends scheduled after the check, as core/history.cc: a cap of N per
-- rolling W refuses a send only when some window of length W containing it would then hold
-- more than N. `sends` are sorted by time.

-- The weight of `sends` in [from, from + length).
local function window_sum(sends, from, length)
  local sum = 0
  for k = 1, #sends do
    local s = sends[k]
    if s[1] >= from + length then break end
    if s[1] >= from then sum = sum + s[2] end
  end
  return sum
end

-- The most weight a window of `length` containing `at` holds.
local function peak(sends, at, length)
  local best = window_sum(sends, at - length + 1, length)
  for k = 1, #sends do
    local s = sends[k]
    if s[1] > at and s[1] < at + length then
      local v = window_sum(sends, s[1] - length + 1, length)
      if v > best then best = v end
    end
  end
  return best
end

-- The first instant after the check when `weight` fits every window containing it: the peak
-- only falls when a send leaves reach, `slide` after it.
local function scheduled_room(cap, sends, weight)
  local limit, slide = cap[LIMIT], cap[SLIDE]
  if weight > limit then return C.NEVER end
  local at = cap[START] + slide - 1
  for k = 1, #sends do
    local s = sends[k]
    local exit = s[1] + slide
    if exit > at and peak(sends, exit, slide) + weight <= limit then return exit end
  end
  return C.NEVER
end

-- A cap's usage over `sends` (`used`: their weight in its window; `scheduled`: one is after
-- the check, so every window containing the send is looked at), and when a message of
-- `weight` fits if it does not now (nil: it fits now).
local function usage(cap, sends, used, scheduled, weight)
  if scheduled then
    sort_by_time(sends)
    used = peak(sends, cap[START] + cap[SLIDE] - 1, cap[SLIDE])
    if used + weight > cap[LIMIT] then return used, scheduled_room(cap, sends, weight) end
  elseif used + weight > cap[LIMIT] then
    return used, room(cap, sends, used, weight)
  end
  return used, nil
end

-- Look-ahead, as core/history.cc: the contact's planned sends that outrank the message (not
-- expired, of another campaign, of a higher priority, or of the same and announced before the
-- message's own planned send), each as a send {at, fields, weight} at the instant it can go
-- out (its planned time, or now once that has passed).
local NO_RIVALS = {}  -- shared, never written: most contacts have no planned send

local function rivals(d)
  if #d.planned == 0 then return NO_RIVALS end
  local entries = read_planned(d.planned)
  local P = d.P
  local campaign, edition, priority = P[C.PLAN_CAMPAIGN], P[C.PLAN_EDITION], P[C.PLAN_PRIORITY]
  local own
  for k = 1, #entries do
    local e = entries[k]
    if own == nil and same_planned_send(e, campaign, edition) then own = e.announced end
  end
  local out = {}
  for k = 1, #entries do
    local e = entries[k]
    if e.at + d.grace > d.now and e.fields[5] ~= campaign then
      local outranks
      if e.priority ~= priority then
        outranks = e.priority > priority
      else  -- a message never announced comes after every planned send of its priority
        outranks = own == nil or e.announced < own
      end
      if outranks then out[#out + 1] = {at = max(e.at, d.now), fields = e.fields, w = e.weight} end
    end
  end
  return out
end

-- A cap's sends with the `rivals` it counts: copies of its sends with theirs, their weight in
-- its window (`used`: the sends' alone), and whether one is after the check.
local function with_rivals(cap, used, rivals_of_message)
  local sends, scheduled = {}, cap[SCHEDULED]
  local start, stop, slide = cap[START], cap[STOP], cap[SLIDE]
  local own_sends = cap[SENDS] or NO_SENDS
  for i = 1, #own_sends do sends[i] = own_sends[i] end
  for k = 1, #rivals_of_message do
    local r = rivals_of_message[k]
    if r.at >= start and (r.at < stop or slide > 0) and cap_matches(cap, r.fields) then
      if r.at < stop then used = used + r.w end
      if r.at > start + slide - 1 and slide > 0 then scheduled = true end
      sends[#sends + 1] = {r.at, r.w}
    end
  end
  return sends, used, scheduled
end

-- Rules: caps, and the contact's own frequency. Counts each cap's matching sends in its
-- window and finds when it has room.
local function check_caps(d)
  local caps = d.caps
  local after_caps = plan_caps(d.P, caps)
  d.after_caps = after_caps
  local counted = caps  -- the caps of the plan, then the contact's own
  local own = contact_cap(d, after_caps)
  if own then
    counted = {}
    for c = 1, #caps do counted[c] = caps[c] end
    counted[#counted + 1] = own
  end
  local any_counts_exempt = caps.counts_exempt or (own ~= nil and own[COUNTS_EXEMPT])

  if #counted > 0 then d.main_latest, d.main_denials = count(counted, d.main, false) end
  if any_counts_exempt then
    d.exempt = d.exempt or call('GET', d.keys[C.KEY_EXEMPT]) or ''
    count(counted, d.exempt, true)
  end
  -- The plan's caps count the planned sends that outrank the message as if they were sent.
  local planned_rivals = rivals(d)
  local weight = d.weight
  for c = 1, #counted do
    local cap = counted[c]
    local in_window, scheduled = cap[USED], cap[SCHEDULED]
    local used, room_at = in_window, nil  -- as usage() finds for a cap the message fits now
    if scheduled or in_window + weight > cap[LIMIT] then
      used, room_at = usage(cap, cap[SENDS] or NO_SENDS, in_window, scheduled, weight)
    end
    cap[USED], cap[ROOM], cap[PLANNED] = used, room_at or false, 0
    if c <= #caps and #planned_rivals > 0 then
      local sends, with, scheduled = with_rivals(cap, in_window, planned_rivals)
      local total
      total, room_at = usage(cap, sends, with, scheduled, weight)
      cap[ROOM], cap[PLANNED] = room_at or false, total - used
    end
  end
  if own and own[ROOM] then
    add_verdict(d, C.REASON_CONTACT_FREQUENCY, own[ROOM], own[USED], own[LIMIT])
  end
end

-- Rule: capacity. Each counter of the plan holds the message to the end of its interval when
-- one more would pass its share.
local NO_COUNTERS = {}  -- shared, never written: most plans have no capacity counter

local function check_capacity(d)
  local P = d.P
  local i = capacity_position(P, d.after_caps)
  if P[i] == 0 then
    d.capacity = NO_COUNTERS
    return
  end
  local counters = {}
  for c = 1, P[i] do
    local at = i + 1 + (c - 1) * C.CAPACITY_SIZE
    local key_at = P[at + C.CAPACITY_KEY]
    local counter = {key = key_at > 0 and d.keys[key_at] or nil, limit = P[at + C.CAPACITY_LIMIT],
                     stop = P[at + C.CAPACITY_END]}
    -- A counter without a key was taken or read on its own node before this call (cluster).
    counter.used = counter.key and (tonumber(call('GET', counter.key)) or 0) or
                       P[at + C.CAPACITY_USED]
    if counter.used + 1 > counter.limit then counter.room = counter.stop end
    counters[c] = counter
  end
  d.capacity = counters
end

-- Counts the allowed message on its capacity counters (those this call reads: one taken before
-- it is counted already).
local function count_capacity(d)
  for k = 1, #d.capacity do
    local counter = d.capacity[k]
    if counter.key then count_on_counter(counter.key, counter.stop, d.now) end
  end
end

-- The message held until `retry` (nil: not held) and denied for `denied` (0: not denied),
-- then held until `at` for `code`: the latest instant wins; the first rule (verdicts in order,
-- then caps) that cannot be met by `deny_after` names the denial.
local function hold(retry, denied, at, code, deny_after)
  if retry ~= C.NEVER and (at == C.NEVER or retry == nil or at > retry) then retry = at end
  if denied == 0 and (at == C.NEVER or at > deny_after) then denied = code end
  return retry, denied
end

-- The reply to the rules' verdicts, written in `reply` and ended by a nil (Redis replies with
-- an array up to the first nil), and d.denied and d.retry set. Each cap's and each capacity
-- counter's answer is (used, room, planned) (SENDGATE_COUNTED_SLOTS).
local function verdict_reply(d, reply)
  local n = 3
  reply[1], reply[2], reply[3] = C.ALLOWED, 0, 0
  local retry, denied, deny_after = nil, 0, d.deny_after
  local verdicts = d.verdicts
  for i = 1, #verdicts do
    retry, denied = hold(retry, denied, verdicts[i][2], verdicts[i][1], deny_after)
  end
  local caps, cap_reached = d.caps, C.REASON_CAP_REACHED
  for k = 1, #caps do
    local cap = caps[k]
    local room_at = cap[ROOM]
    reply[n + C.COUNTED_USED + 1] = cap[USED]
    reply[n + C.COUNTED_ROOM + 1] = room_at or C.ROOM_NOW
    reply[n + C.COUNTED_PLANNED + 1] = cap[PLANNED]
    n = n + C.COUNTED_SIZE
    if room_at then retry, denied = hold(retry, denied, room_at, cap_reached, deny_after) end
  end
  for k = 1, #d.capacity do
    local counter = d.capacity[k]
    reply[n + C.COUNTED_USED + 1] = counter.used
    reply[n + C.COUNTED_ROOM + 1] = counter.room or C.ROOM_NOW
    reply[n + C.COUNTED_PLANNED + 1] = 0
    n = n + C.COUNTED_SIZE
    if counter.room then
      retry, denied = hold(retry, denied, counter.room, C.REASON_CAPACITY, deny_after)
    end
  end
  n = n + 1
  reply[n] = #verdicts
  for i = 1, #verdicts do
    local v = verdicts[i]
    for k = 1, C.VERDICT_SIZE do reply[n + k] = v[k] end
    n = n + C.VERDICT_SIZE
  end
  d.retry, d.denied = retry, denied
  if retry ~= nil then
    reply[C.REPLY_AT] = retry
    reply[C.REPLY_OUTCOME] = denied == 0 and C.DEFERRED or C.DENIED
    reply[C.REPLY_CODE] = denied
  end
  reply[n + 1] = nil
  return reply
end

-- A list of records: {key, n records, first_at, blob (its content, when read), and whether it
-- may hold denials}. Its whole content, read once.
local function list_content(list)
  if not list.blob then list.blob = call('GET', list.key) or '' end
  return list.blob
end

-- The time of the latest record of `blob`, or `latest` if later.
local function latest_at(blob, latest)
  for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
    local at = record_at(blob, pos)
    if at > latest then latest = at end
  end
  return latest
end

-- Marks gone the oldest of `kept` of a kind (denials or not) beyond `most`, down to `floor`.
local function drop_oldest(kept, of_denials, most, floor)
  local count = 0
  for k = 1, #kept do
    local r = kept[k]
    if r.denied == of_denials then count = count + 1 end
  end
  if count <= most then return end
  local excess = count - floor
  for k = 1, #kept do
    local r = kept[k]
    if excess == 0 then return end
    if r.denied == of_denials and not r.gone then
      r.gone = true
      excess = excess - 1
    end
  end
end

-- Rewrites `list` with `record`: without records older than keep_after, and without the
-- oldest of a kind beyond its bound, down to its floor.
local function rewrite(d, list, record, record_denied_code)
  local blob = list_content(list)
  local kept = {}
  for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
    if record_at(blob, pos) >= d.keep_after then
      kept[#kept + 1] = {pos = pos, denied = record_denied(blob, pos) ~= 0}
    end
  end
  kept[#kept + 1] = {raw = record, denied = record_denied_code ~= 0}
  drop_oldest(kept, false, C.MAX_COUNTED, C.COUNTED_FLOOR)
  drop_oldest(kept, true, C.MAX_DENIED, C.DENIED_FLOOR)
  local parts = {}
  for k = 1, #kept do
    local r = kept[k]
    if not r.gone then
      parts[#parts + 1] = r.raw or sub(blob, r.pos, r.pos + C.RECORD_BYTES - 1)
    end
  end
  local kept_blob = table.concat(parts)
  call('SET', list.key, kept_blob, 'PX',
             max(latest_at(kept_blob, d.send_at) + d.retention - d.now, 1000))
end

-- Appends `record` to `list`; rewrites the list instead when its first record is older than
-- trim_before or a bound is passed. A short list is written whole with SET (exact allocation:
-- memory per contact stays small); a long one is appended to (its write stays small, and it
-- is not read). The key never expires before retention after its latest record. The list's
-- denials and latest record (list.denials, list.latest) are counted here unless the caps'
-- pass over it counted them already.
local function append(d, list, record, record_denied_code)
  local denials = list.denials or 0
  if list.may_hold_denials and not list.denials then
    local blob = list_content(list)
    for pos = 1, #blob - C.RECORD_BYTES + 1, C.RECORD_BYTES do
      if record_denied(blob, pos) ~= 0 then denials = denials + 1 end
    end
  end
  local counted = list.n - denials
  if record_denied_code == 0 then counted = counted + 1 else denials = denials + 1 end
  local trim = list.n > 0 and list.first_at < d.trim_before
  local over = counted > C.MAX_COUNTED or denials > C.MAX_DENIED
  if trim or over then return rewrite(d, list, record, record_denied_code) end
  if list.n >= C.SET_UP_TO then
    call('APPEND', list.key, record)
    call('PEXPIRE', list.key, max(d.send_at + d.retention - d.now, 1000), 'GT')
  else
    local blob = list_content(list)
    local latest = list.latest and max(list.latest, d.send_at) or latest_at(blob, d.send_at)
    call('SET', list.key, blob .. record, 'PX', max(latest + d.retention - d.now, 1000))
  end
end

-- The record of this decision.
local function decision_record(d)
  local P = d.P
  return pack_record(d.send_at, d.lo, d.hi, d.channel, P[C.PLAN_CATEGORY], d.subscription,
                     P[C.PLAN_PROGRAM], P[C.PLAN_CAMPAIGN], P[C.PLAN_EDITION], d.weight,
                     P[C.PLAN_PRIORITY], d.denied)
end

-- A decided message consumes its own planned send (same campaign and edition), and the
-- contact's expired planned sends go with it, as core::HistoryAfter.
local function consume_planned(d)
  local entries = read_planned(d.planned)
  local campaign, edition = d.P[C.PLAN_CAMPAIGN], d.P[C.PLAN_EDITION]
  local own = false
  for i = 1, #entries do own = own or same_planned_send(entries[i], campaign, edition) end
  if not own then return end
  local kept = {}
  for k = 1, #entries do
    local e = entries[k]
    if not same_planned_send(e, campaign, edition) and e.at + d.grace > d.now then
      kept[#kept + 1] = e
    end
  end
  write_planned(d.keys[C.KEY_PLANNED], kept, d.now, d.grace)
end

-- Records the decision: a counted send of an exempt category in the exempt list, any other
-- send or denial in the main one, its count on the capacity counters, the consumption of its
-- planned send. A busy contact's exempt list can be long: it is read whole only when a cap
-- counts it, when it is short, or when it is rewritten.
local record_list = {}  -- reused: the list a decision is recorded in

-- The list of records at `key`: `n` records, the first at `first_at`, its content `blob` when it
-- was read already (else nil), whether it may hold denials, and its denials and latest record
-- when they were counted already (else false).
local function list_at(key, n, first_at, blob, may_hold_denials, denials, latest)
  local list = record_list
  list.key, list.n, list.first_at, list.blob = key, n, first_at, blob
  list.may_hold_denials, list.denials, list.latest = may_hold_denials, denials, latest
  return list
end

local function record_decision(d)
  local record = decision_record(d)
  if d.denied == 0 then count_capacity(d) end
  if #d.planned > 0 then consume_planned(d) end
  if d.denied == 0 and d.is_exempt then
    local key = d.keys[C.KEY_EXEMPT]
    local n = (d.exempt and #d.exempt or call('STRLEN', key)) / C.RECORD_BYTES
    local first = d.exempt or (n > 0 and call('GETRANGE', key, 0, C.RECORD_BYTES - 1))
    append(d, list_at(key, n, n > 0 and record_at(first, 1) or nil, d.exempt, false, false, false),
           record, d.denied)
  else
    local main = d.main
    append(d, list_at(d.keys[C.KEY_MAIN], #main / C.RECORD_BYTES,
                      #main > 0 and record_at(main, 1) or nil, main, true, d.main_denials,
                      d.main_latest), record, d.denied)
  end
end

-- The state of the decision under way, `d`: one table that every call reuses. Made anew for
-- each decision, its two dozen named fields cost a tenth of decide's work (a hashed insertion
-- each, and the memory the garbage collector then goes through). So evaluate sets every field
-- of it, those the rules set included, before the rules run; a decision's `d` is used only
-- until its call returns.
local decision = {}

local reply_rows = {}  -- reused: the reply, which Redis reads as the call returns

-- The rules of plan `P`, whose caps are `caps` (caps_of its scopes), on the stored state, and
-- their reply, written in `reply`; `d` is kept for the record. `exempt`: the exempt history
-- when it was read already, else nil; `planned`: the contact's planned sends.
local function evaluate(keys, P, caps, main, exempt, planned, prefs, reply)
  local d = decision
  d.keys, d.P, d.caps, d.main, d.exempt = keys, P, caps, main, exempt
  d.prefs, d.planned = prefs, planned
  d.lo, d.hi, d.is_exempt = P[C.PLAN_HASH_LOW], P[C.PLAN_HASH_HIGH], P[C.PLAN_EXEMPT] == 1
  d.send_at, d.weight, d.now = P[C.PLAN_SEND_AT], P[C.PLAN_WEIGHT], P[C.PLAN_NOW]
  d.channel, d.subscription = P[C.PLAN_CHANNEL], P[C.PLAN_SUBSCRIPTION]
  d.deny_after, d.keep_after = P[C.PLAN_DENY_AFTER], P[C.PLAN_KEEP_AFTER]
  d.trim_before, d.retention = P[C.PLAN_TRIM_BEFORE], P[C.PLAN_RETENTION]
  d.grace = P[C.PLAN_PLANNED_GRACE]
  -- What the rules set.
  d.verdicts, d.after_caps, d.capacity = {}, 0, NO_COUNTERS
  d.retry, d.denied, d.main_latest, d.main_denials = nil, 0, false, false
  -- The rules, in order; each notes what holds the message back.
  check_opt_out(d)
  check_consent(d)
  check_pause(d)
  check_caps(d)
  check_capacity(d)
  return d, verdict_reply(d, reply)
end

-- The decision; recorded unless `dry_run`. With a shadow plan (args[C.ARG_SHADOW_PLAN], a
-- candidate policy's), that plan is evaluated too, on the state before the record, and the
-- reply is {the plan's reply, the shadow's reply}.
local function decide(keys, args, dry_run)
  local P = read_plan(args[C.ARG_PLAN])
  local lo, hi = P[C.PLAN_HASH_LOW], P[C.PLAN_HASH_HIGH]
  local is_exempt = P[C.PLAN_EXEMPT] == 1
  -- GET, not one MGET with the preferences: MGET reads a key of another type as missing,
  -- and the history would be written over instead of the call failing. The planned sends and
  -- the histories of a version before editions may be read so (one MGET): a planned-send list
  -- read as missing is never written, an old history never moved.
  local main = call('GET', keys[C.KEY_MAIN]) or ''
  local side = call('MGET', keys[C.KEY_PLANNED], keys[C.KEY_V1_MAIN], keys[C.KEY_V1_EXEMPT])
  local exempt
  main, exempt = with_v1_histories(keys, main, side[2], side[3], dry_run)
  local depth = C.EXEMPT_REPLAY_DEPTH * C.RECORD_BYTES
  local exempt_tail
  if is_exempt then
    exempt_tail = exempt and sub(exempt, -depth) or
                      call('GETRANGE', keys[C.KEY_EXEMPT], -depth, -1)
    -- Shorter than asked: the whole list, which the record then needs no call to read.
    if #exempt_tail < depth then exempt = exempt_tail end
  end
  local replay = replay_in(main, lo, hi) or (is_exempt and replay_in(exempt_tail, lo, hi))
  if replay then return replay end

  local prefs = stored_preferences(keys, args[C.ARG_SUPPRESSION_HASH])
  if planned_otherwise(P[C.PLAN_TZ_FP], prefs and prefs.tz_fp or 0) or
      planned_otherwise(P[C.PLAN_SEGMENTS_FP], prefs and prefs.seg_fp or 0) then
    return {C.PROFILE_CHANGED, 0, 0, prefs and prefs.profile or '\0\0'}
  end

  local planned = side[1] or ''
  local shadow = args[C.ARG_SHADOW_PLAN]
  local shadow_reply
  if shadow then
    local _
    _, shadow_reply = evaluate(keys, read_plan(shadow), caps_of(args[C.ARG_SHADOW_CAP_SCOPES]),
                               main, exempt, planned, prefs, {})
  end
  local d, reply = evaluate(keys, P, caps_of(args[C.ARG_CAP_SCOPES]), main, exempt, planned,
                            prefs, reply_rows)
  if reply[C.REPLY_OUTCOME] ~= C.DEFERRED and not dry_run then record_decision(d) end
  if shadow_reply then return {reply, shadow_reply} end
  return reply
end

register_function('decide', decide)
