// sendgate's Redis function library, and commands in RESP, the form Redis reads. The library
// is service/store/*.lua in one Lua chunk (library.lua, contract.lua, history.lua,
// preferences.lua, then a file per function), embedded at build time with its version, a
// digest of its source (embed_library.cmake): kDecideFunction, kCancelFunction, ... are the
// names FCALL calls its functions by, the version included.
// A connection loads the library (FUNCTION LOAD) when it connects, and again, then sends the
// same call, when Redis answers that a function is not found (redis_connection.h).
#pragma once

#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "service/store/embedded_library.h"

namespace sendgate::store {

// A command in RESP form, written argument by argument into one string sized once: for
// arguments built in place (a key from its parts, a plan's numbers), which FormatCommand would
// need apart first. Byte for byte as hiredis would format the same arguments.
class CommandWriter {
 public:
  // A command of `arguments` arguments, about `bytes` long in all (more grows the string).
  CommandWriter(size_t arguments, size_t bytes);

  // One argument, `parts` joined; returns it as written, valid until the next argument.
  absl::string_view Add(std::initializer_list<absl::string_view> parts);
  // One argument of `size` bytes, which the caller writes at the pointer returned before the
  // next argument.
  char* AddBytes(size_t size);

  std::string Take() &&;

 private:
  // Room for `bytes` more at the end of the command, where the next bytes go. Inline: a
  // decision's command asks 25 times, and almost never grows.
  char* Room(size_t bytes) {
    if (wire_.size() - size_ < bytes) Grow(bytes);
    return wire_.data() + size_;
  }
  void Grow(size_t bytes);
  void Header(char kind, size_t number);

  std::string wire_;  // sized ahead: the command is its first `size_` bytes
  size_t size_ = 0;
};

// Any command in RESP form, byte for byte as hiredis would format it.
std::string FormatCommand(absl::Span<const absl::string_view> argv);

// FCALL of `function` (kDecideFunction ...) with `keys` and `args`, in RESP form.
std::string FormatFcall(absl::string_view function, absl::Span<const absl::string_view> keys,
                        absl::Span<const absl::string_view> args);

// FUNCTION LOAD of the library, in RESP form. Without REPLACE: a library of the same name is
// the same source, and Redis answering that it exists means it is there.
std::string FormatLibraryLoad();

}  // namespace sendgate::store
