-- preferences.lua: reading a contact's stored preferences, or a suppression entry (same form),
-- laid out as contract.lua's PREF_* say (service/store/script_contract.h); put after
-- contract.lua and before the scripts that read them.

-- Whether flag bit `flag` (a power of two) is set in `flags`.
local function has_flag(flags, flag)
  return math.floor(flags / flag) % 2 == 1
end

-- The version of the preferences in `blob` (read without the rest).
local function preferences_version(blob)
  return (struct_unpack(C.PREF_VERSION_FORMAT, blob, C.PREF_VERSION_OFFSET + 1))
end

-- The preferences in `blob` as a table: opt_out, suppressed, pause_until (ms, 0 = none),
-- tz_fp, seg_fp, subscriptions[subscription * 65536 + channel] = opted in, blocks[channel] =
-- reason, frequency[channel] = {limit, kind, length}, profile (its bytes), channel_pauses[channel]
-- = until (ms; format 2 only).
local function read_preferences(blob)
  local format, flags, version, pause_until, tz_fp, seg_fp, subscriptions, blocks, frequencies,
        profile_bytes = struct_unpack(C.PREF_HEAD, blob)
  if format ~= C.PREFERENCE_FORMAT and format ~= C.PREFERENCE_FORMAT_1 then
    error('sendgate: stored preferences of an unknown format')
  end
  local p = {opt_out = has_flag(flags, C.FLAG_OPT_OUT), suppressed = has_flag(flags, C.FLAG_SUPPRESSED),
             version = version, pause_until = pause_until, tz_fp = tz_fp, seg_fp = seg_fp,
             subscriptions = {}, blocks = {}, frequency = {}, channel_pauses = {}}
  local pos = C.PREF_HEAD_BYTES + 1
  for _ = 1, subscriptions do
    local subscription, channel, opted_in = struct_unpack(C.PREF_SUBSCRIPTION, blob, pos)
    p.subscriptions[subscription * 65536 + channel] = opted_in == 1
    pos = pos + C.PREF_SUBSCRIPTION_BYTES
  end
  for _ = 1, blocks do
    local channel, reason = struct_unpack(C.PREF_BLOCK, blob, pos)
    p.blocks[channel] = reason
    pos = pos + C.PREF_BLOCK_BYTES
  end
  for _ = 1, frequencies do
    local channel, limit, kind, length = struct_unpack(C.PREF_FREQUENCY, blob, pos)
    p.frequency[channel] = {limit = limit, kind = kind, length = length}
    pos = pos + C.PREF_FREQUENCY_BYTES
  end
  p.profile = sub(blob, pos, pos + profile_bytes - 1)
  pos = pos + profile_bytes
  if format == C.PREFERENCE_FORMAT then
    for _ = 1, byte(blob, pos) do
      local channel, until_ms = struct_unpack(C.PREF_CHANNEL_PAUSE, blob, pos + 1)
      p.channel_pauses[channel] = until_ms
      pos = pos + C.PREF_CHANNEL_PAUSE_BYTES
    end
  end
  return p
end
