// Fuzz target: the pressure policy's loader on any text (a policy file is an operator's, but a
// ValidatePolicy call brings one from the network). Any answer is fine; a crash, a hang or a
// sanitizer report is not. A policy that loads is asked what its callers may declare.
#include <cstdint>
#include <string>

#include "service/policy/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::shared_ptr<const sendgate::core::Policy>> policy =
      sendgate::policy::ParsePolicy(text, "fuzz.yaml");
  if (policy.ok()) {
    const sendgate::core::Policy& loaded = **policy;
    for (const sendgate::core::Caller& caller : loaded.callers) {
      loaded.CallerMayDeclare(caller.name, loaded.default_category, false).IgnoreError();
    }
    loaded.Retention();
  }
  return 0;
}
