-- library.lua: the start of sendgate's Redis function library, put before everything else.
-- The library and its functions are named with its version, a digest of its source
-- (LIBRARY_VERSION, set on the line above by embed_scripts.cmake): two sendgate versions
-- sharing a Redis, as in a rolling deploy, each call their own.

-- Registers `callback` as function `name`_<version>; `flags` as redis.register_function's.
local function register_function(name, callback, flags)
  redis.register_function{function_name = name .. '_' .. LIBRARY_VERSION, callback = callback,
                          flags = flags}
end
