// A Lua script as sendgate sends it: its source (for EVAL after a NOSCRIPT) and its SHA-1 (for
// EVALSHA). The sources are service/store/*.lua, embedded at build time.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

namespace sendgate::store {

struct Script {
  std::string source;
  std::string sha1;
};

const Script& DecideScript();
const Script& CancelScript();

// The EVAL form of an EVALSHA command built by ScriptCall(): same arguments, full source.
std::string EvalInsteadOfEvalsha(absl::string_view evalsha_wire, const Script& script);

}  // namespace sendgate::store
