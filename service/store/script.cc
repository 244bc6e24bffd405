#include "service/store/script.h"

#include "absl/strings/str_cat.h"
#include "service/store/embedded_scripts.h"
#include "service/store/sha1.h"

namespace sendgate::store {
namespace {

Script Make(absl::string_view body) {
  Script script{.source = absl::StrCat(kHistoryLua, "\n", body)};
  script.sha1 = Sha1Hex(script.source);
  return script;
}

}  // namespace

const Script& DecideScript() {
  static const Script* const script = new Script(Make(kDecideLua));
  return *script;
}

const Script& CancelScript() {
  static const Script* const script = new Script(Make(kCancelLua));
  return *script;
}

std::string EvalInsteadOfEvalsha(absl::string_view evalsha_wire, const Script& script) {
  // "*<n>\r\n" "$7\r\nEVALSHA\r\n" "$40\r\n<sha>\r\n" <the rest>
  const size_t count_end = evalsha_wire.find("\r\n") + 2;
  const size_t rest = count_end + 13 + 5 + 40 + 2;
  return absl::StrCat(evalsha_wire.substr(0, count_end), "$4\r\nEVAL\r\n$", script.source.size(),
                      "\r\n", script.source, "\r\n", evalsha_wire.substr(rest));
}

}  // namespace sendgate::store
