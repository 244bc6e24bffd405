-- lua_profile.lua: where a function of sendgate's Redis library spends its Lua bytecodes, line
-- by line, on a replay of the commands sendgate sends (loadtest/lua_profile.sh makes the replay
-- and runs this). Redis's Lua is statically linked and stripped, and Redis gives scripts no
-- `debug` library, so the library runs here under plain Lua 5.1 (the version Redis embeds),
-- with a count hook on every bytecode. Redis's struct library and the commands the library
-- calls are emulated in Lua: their own cost is not counted, each call to them is (a "C call").
-- Bytecodes repeat exactly between runs of the same replay; what one costs inside Redis
-- differs by opcode (about 85 instructions on average, a C call 600 to 1 200: docs/redis.md).
--   lua5.1 loadtest/lua_profile.lua REPLAY FUNCTION [LINES]
-- REPLAY: RESP commands, the library's FUNCTION LOAD first, then FCALLs; FUNCTION: the name
-- the FCALLs call without its version (decide); LINES: how many of the costliest lines to list.
local replay_path, function_name, shown = arg[1], arg[2], tonumber(arg[3] or 40)
if not replay_path or not function_name then
  io.stderr:write('usage: lua5.1 lua_profile.lua REPLAY FUNCTION [LINES]\n')
  os.exit(2)
end

-- The replay's commands, each an array of its arguments.
local function read_commands(path)
  local file = assert(io.open(path, 'rb'))
  local data = file:read('*a')
  file:close()
  local commands, pos = {}, 1
  while pos <= #data do
    local count, after = data:match('^%*(%d+)\r\n()', pos)
    if not count then error('REPLAY: not a RESP array at byte ' .. pos) end
    pos = after
    local command = {}
    for i = 1, tonumber(count) do
      local length, start = data:match('^%$(%d+)\r\n()', pos)
      if not length then error('REPLAY: not a RESP bulk string at byte ' .. pos) end
      command[i] = data:sub(start, start + tonumber(length) - 1)
      pos = start + tonumber(length) + 2
    end
    commands[#commands + 1] = command
  end
  return commands
end

-- What the emulation runs is compiled under the chunk name '=emulation', which the hook
-- leaves out.
local function emulated(source, ...)
  return assert(loadstring(source, '=emulation'))(...)
end

-- Redis's struct.pack and struct.unpack for the formats the library uses: '<', 'x', 'B', 'b',
-- 'H', 'h', 'I<n>', 'i<n>' (unsigned: the library packs no negative number) and 'd'.
local struct = emulated([[
local items_of_format = {}
local SIZES = {x = 1, B = 1, b = 1, H = 2, h = 2, d = 8}
local function items(format)
  local list = items_of_format[format]
  if list then return list end
  list = {}
  local i = 1
  while i <= #format do
    local kind = format:sub(i, i)
    i = i + 1
    if kind == 'I' or kind == 'i' then
      local digits = format:match('^%d+', i) or ''
      i = i + #digits
      list[#list + 1] = {'I', tonumber(digits) or 4}
    elseif SIZES[kind] then
      list[#list + 1] = {kind == 'x' and 'x' or kind == 'd' and 'd' or 'I', SIZES[kind]}
    elseif kind ~= '<' then
      error('struct: format ' .. kind .. ' is not emulated')
    end
  end
  items_of_format[format] = list
  return list
end
local function double(s, at)
  local b = {s:byte(at, at + 7)}
  local sign = b[8] >= 128 and -1 or 1
  local exponent = (b[8] % 128) * 16 + math.floor(b[7] / 16)
  local mantissa = b[7] % 16
  for k = 6, 1, -1 do mantissa = mantissa * 256 + b[k] end
  if exponent == 0 then return sign * math.ldexp(mantissa, -1074) end
  return sign * math.ldexp(mantissa + 2 ^ 52, exponent - 1075)
end
local struct = {}
function struct.unpack(format, s, at)
  at = at or 1
  local out = {}
  for _, item in ipairs(items(format)) do
    local kind, size = item[1], item[2]
    if kind == 'd' then
      out[#out + 1] = double(s, at)
    elseif kind == 'I' then
      local v = 0
      for k = size, 1, -1 do v = v * 256 + s:byte(at + k - 1) end
      out[#out + 1] = v
    end
    at = at + size
  end
  out[#out + 1] = at
  return unpack(out)
end
function struct.pack(format, ...)
  local values, parts, next_value = {...}, {}, 1
  for _, item in ipairs(items(format)) do
    local kind, size = item[1], item[2]
    if kind == 'x' then
      parts[#parts + 1] = '\0'
    elseif kind == 'I' then
      local v = values[next_value]
      next_value = next_value + 1
      for _ = 1, size do
        parts[#parts + 1] = string.char(v % 256)
        v = math.floor(v / 256)
      end
    else
      error('struct: packing ' .. kind .. ' is not emulated')
    end
  end
  return table.concat(parts)
end
return struct
]])

-- The commands the library calls, on a table of strings (no expiry: a replay is one instant).
local redis_call = emulated([[
local store = {}
local COMMANDS = {}
function COMMANDS.GET(key) return store[key] or false end
function COMMANDS.MGET(...)
  local values = {}
  for i, key in ipairs({...}) do values[i] = store[key] or false end
  return values
end
function COMMANDS.SET(key, value) store[key] = value return {ok = 'OK'} end
function COMMANDS.APPEND(key, value)
  store[key] = (store[key] or '') .. value
  return #store[key]
end
function COMMANDS.STRLEN(key) return #(store[key] or '') end
function COMMANDS.GETRANGE(key, first, last)
  local s = store[key] or ''
  first, last = tonumber(first), tonumber(last)
  if first < 0 then first = math.max(#s + first, 0) end
  if last < 0 then last = #s + last end
  return s:sub(first + 1, last + 1)
end
function COMMANDS.HGET(key, field) return store[key .. '\0' .. field] or false end
function COMMANDS.INCR(key)
  store[key] = tostring((tonumber(store[key]) or 0) + 1)
  return tonumber(store[key])
end
function COMMANDS.DEL(key) store[key] = nil return 1 end
function COMMANDS.PEXPIRE() return 1 end
function COMMANDS.PTTL() return -1 end
return function(name, ...)
  local command = COMMANDS[name:upper()]
  if not command then error('redis.call: ' .. name .. ' is not emulated') end
  return command(...)
end
]])

-- The library's functions by name without their version, and its source lines.
local function load_library(source)
  local functions = {}
  local redis = {call = redis_call, pcall = redis_call,
                 error_reply = function(message) return {err = message} end,
                 status_reply = function(message) return {ok = message} end,
                 register_function = function(registration)
                   local name = registration.function_name:gsub('_%x+$', '')
                   functions[name] = registration.callback
                 end}
  local chunk = assert(loadstring(source:gsub('^#![^\n]*', ''), '=library'))
  setfenv(chunk, setmetatable({redis = redis, struct = struct}, {__index = _G}))
  chunk()
  local lines = {}
  for line in (source .. '\n'):gmatch('([^\n]*)\n') do lines[#lines + 1] = line end
  return functions, lines
end

-- Each library line as file:line, from the '-- name.lua:' line that starts every file.
local function source_places(lines)
  local places, file, first = {}, 'library', 1
  for n, line in ipairs(lines) do
    local name = line:match('^%-%- ([%w_]+%.lua):')
    if name then file, first = name, n end
    places[n] = file .. ':' .. (n - first + 1)
  end
  return places
end

local commands = read_commands(replay_path)
local functions, lines = load_library(commands[1][#commands[1]])
local callback = functions[function_name]
if not callback then error('the library registers no function ' .. function_name) end

-- The hook: every bytecode of the library, by line; every call from the library to C or to
-- the emulation, by the calling line.
local bytecodes, c_calls = {}, {}
local getinfo = debug.getinfo
local function hook(event)
  if event == 'count' then
    local running = getinfo(2, 'Sl')
    if running.source == '=library' then
      bytecodes[running.currentline] = (bytecodes[running.currentline] or 0) + 1
    end
  else
    local called = getinfo(2, 'S')
    if called.what == 'C' or called.source == '=emulation' then
      local caller = getinfo(3, 'Sl')
      if caller and caller.source == '=library' then
        c_calls[caller.currentline] = (c_calls[caller.currentline] or 0) + 1
      end
    end
  end
end

local calls = 0
for i = 2, #commands do
  local command = commands[i]
  if command[1]:upper() == 'FCALL' then
    local key_count = tonumber(command[3])
    local keys, args = {}, {}
    for k = 1, key_count do keys[k] = command[3 + k] end
    for k = 4 + key_count, #command do args[#args + 1] = command[k] end
    debug.sethook(hook, 'c', 1)
    callback(keys, args)
    debug.sethook()
    calls = calls + 1
  end
end
if calls == 0 then error('REPLAY has no FCALL') end

local function total(counts)
  local sum = 0
  for _, n in pairs(counts) do sum = sum + n end
  return sum
end
print(string.format('%s, %d calls: %.1f bytecodes and %.2f C calls per call', function_name, calls,
                    total(bytecodes) / calls, total(c_calls) / calls))
-- Lines by bytecodes plus ten per C call (a C call costs about ten bytecodes).
local listed, seen = {}, {}
for _, counts in ipairs({bytecodes, c_calls}) do
  for line in pairs(counts) do
    if not seen[line] then listed[#listed + 1], seen[line] = line, true end
  end
end
local function weight(line) return (bytecodes[line] or 0) + 10 * (c_calls[line] or 0) end
table.sort(listed, function(a, b) return weight(a) > weight(b) end)
local places = source_places(lines)
print('bytecodes  C calls  per call, at                 line')
for i = 1, math.min(shown, #listed) do
  local line = listed[i]
  print(string.format('%9.1f %8.2f  %-24s %s', (bytecodes[line] or 0) / calls,
                      (c_calls[line] or 0) / calls, places[line], lines[line]:sub(1, 70)))
end
