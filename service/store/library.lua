-- library.lua: the start of sendgate's Redis function library, put before everything else.
-- The library and its functions are named with its version, a digest of its source
-- (LIBRARY_VERSION, set on the line above by embed_library.cmake): two sendgate versions
-- sharing a Redis, as in a rolling deploy, each call their own.

-- The library functions called on every decision, as upvalues of the whole library: a global
-- is looked up through Redis's protected table of globals on every use (about 250
-- instructions, where an upvalue costs a few). A library cannot reach any global while it
-- loads, so they are bound by the first call of any of its functions (register_function).
local byte, sub, find, struct_pack, struct_unpack, max, call

local function bind_globals()
  byte, sub, find = string.byte, string.sub, string.find
  struct_pack, struct_unpack = struct.pack, struct.unpack
  max, call = math.max, redis.call
end

-- Registers `callback` as function `name`_<version>; `flags` as redis.register_function's.
local function register_function(name, callback, flags)
  local function bound(keys, args)
    if not call then bind_globals() end
    return callback(keys, args)
  end
  redis.register_function{function_name = name .. '_' .. LIBRARY_VERSION, callback = bound,
                          flags = flags}
end
