// sendgate's Redis function library, and commands in RESP, the form Redis reads. The library
// is service/store/*.lua in one Lua chunk (library.lua, contract.lua, history.lua,
// preferences.lua, then a file per function), embedded at build time with its version, a
// digest of its source (embed_library.cmake): kDecideFunction, kCancelFunction, ... are the
// names FCALL calls its functions by, the version included.
// A connection loads the library (FUNCTION LOAD) when it connects, and again, then sends the
// same call, when Redis answers that a function is not found (redis_connection.h).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "service/store/embedded_library.h"

namespace sendgate::store {

// Any command in RESP form, byte for byte as hiredis would format it.
std::string FormatCommand(absl::Span<const absl::string_view> argv);

// FCALL of `function` (kDecideFunction ...) with `keys` and `args`, in RESP form.
std::string FormatFcall(absl::string_view function, absl::Span<const absl::string_view> keys,
                        absl::Span<const absl::string_view> args);

// FUNCTION LOAD of the library, in RESP form. Without REPLACE: a library of the same name is
// the same source, and Redis answering that it exists means it is there.
std::string FormatLibraryLoad();

}  // namespace sendgate::store
