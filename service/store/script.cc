#include "service/store/script.h"

#include <hiredis/hiredis.h>

#include "absl/strings/str_cat.h"
#include "service/store/embedded_scripts.h"

namespace sendgate::store {

const Script& DecideScript() {
  static const Script script{.source = kDecideLua, .sha1 = kDecideLuaSha1};
  return script;
}

const Script& CancelScript() {
  static const Script script{.source = kCancelLua, .sha1 = kCancelLuaSha1};
  return script;
}

std::string FormatCommand(const std::vector<absl::string_view>& argv) {
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  pointers.reserve(argv.size());
  lengths.reserve(argv.size());
  for (absl::string_view argument : argv) {
    pointers.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()),
                                            pointers.data(), lengths.data());
  if (length < 0) return "";  // out of memory
  std::string wire(formatted, static_cast<size_t>(length));
  redisFreeCommand(formatted);
  return wire;
}

std::string FormatScriptCall(const ScriptCall& call, bool with_source) {
  const std::string key_count = absl::StrCat(call.keys.size());
  std::vector<absl::string_view> argv = {with_source ? "EVAL" : "EVALSHA",
                                         with_source ? call.script->source : call.script->sha1,
                                         key_count};
  for (const std::string& key : call.keys) argv.push_back(key);
  for (const std::string& arg : call.args) argv.push_back(arg);
  return FormatCommand(argv);
}

}  // namespace sendgate::store
