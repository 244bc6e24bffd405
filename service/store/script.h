// The Lua scripts as sendgate sends them, and commands in the RESP form hiredis writes. The
// sources are service/store/*.lua with contract.lua and history.lua in front, embedded at build
// time with their SHA-1 (embed_scripts.cmake), so EVALSHA needs no digest code at run time.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace sendgate::store {

struct Script {
  absl::string_view source;
  absl::string_view sha1;
};

const Script& DecideScript();
const Script& CancelScript();

// One call of a script: what EVALSHA sends, and EVAL after a NOSCRIPT.
struct ScriptCall {
  const Script* script = nullptr;
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// `call` in RESP form: EVALSHA by its digest, or EVAL with its full source.
std::string FormatScriptCall(const ScriptCall& call, bool with_source);

// Any command in RESP form (hiredis's redisFormatCommandArgv).
std::string FormatCommand(const std::vector<absl::string_view>& argv);

}  // namespace sendgate::store
