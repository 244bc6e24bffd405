// The Lua scripts as sendgate sends them, and commands in the RESP form hiredis writes. The
// sources are service/store/*.lua with contract.lua and history.lua in front, embedded at build
// time with their SHA-1 (embed_scripts.cmake), so EVALSHA needs no digest code at run time.
// A script is always called by EVALSHA; after a NOSCRIPT the connection loads it (SCRIPT LOAD)
// and sends the same command again (redis_connection.h).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace sendgate::store {

struct Script {
  absl::string_view source;
  absl::string_view sha1;
};

const Script& DecideScript();
const Script& CancelScript();
const Script& ReadPreferencesScript();
const Script& WritePreferencesScript();
const Script& ForgetScript();

// Any command in RESP form, formatted by hiredis (redisFormatSdsCommandArgv).
std::string FormatCommand(absl::Span<const absl::string_view> argv);

// EVALSHA of `script` with `keys` and `args`, in RESP form.
std::string FormatEvalsha(const Script& script, absl::Span<const absl::string_view> keys,
                          absl::Span<const absl::string_view> args);

}  // namespace sendgate::store
