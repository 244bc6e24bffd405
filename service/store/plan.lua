-- plan.lua: changes a contact's planned sends (Arbiter.Plan), as core::PlanSends: each change
-- puts a planned send in place of any of the same campaign and edition, or withdraws it;
-- expired ones (past their planned time by the grace) go first, and beyond C.MAX_PLANNED the
-- one planned furthest ahead goes. The list lives until its last planned send expires.
-- keys[1]  the contact's planned sends, sg:{<contact>}:l
-- args[C.PLAN_SENDS_NOW], args[C.PLAN_SENDS_GRACE]  now and the grace, in ms
-- args[C.PLAN_SENDS_HEAD + 1 ...]  each change as two arguments: '1' to plan or '0' to
--          withdraw, then the planned send (C.PLANNED layout)
-- Returns the number of planned sends the contact has afterwards.
local function plan(keys, args)
  local now, grace = tonumber(args[C.PLAN_SENDS_NOW]), tonumber(args[C.PLAN_SENDS_GRACE])
  local entries = {}
  for _, e in ipairs(read_planned(redis.call('GET', keys[1]) or '')) do
    if e.at + grace > now then entries[#entries + 1] = e end
  end
  for i = C.PLAN_SENDS_HEAD + 1, #args - 1, 2 do
    if #args[i + 1] ~= C.PLANNED_BYTES then
      return redis.error_reply('ERR a planned send of ' .. #args[i + 1] .. ' bytes')
    end
    local change = read_planned(args[i + 1])[1]
    local kept = {}
    for _, e in ipairs(entries) do
      if not same_planned_send(e, change.fields[5], change.fields[6]) then kept[#kept + 1] = e end
    end
    if args[i] == '1' then kept[#kept + 1] = change end
    entries = kept
  end
  while #entries > C.MAX_PLANNED do
    local latest = 1
    for k = 2, #entries do
      if entries[k].at > entries[latest].at then latest = k end
    end
    table.remove(entries, latest)
  end
  write_planned(keys[1], entries, now, grace)
  return #entries
end

register_function('plan', plan)
