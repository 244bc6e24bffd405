// Reads a pressure policy from YAML (policies/*.yaml; reference in docs/policy.md) into a
// validated core::Policy. Every problem found is reported, each as "file:line:column: message"
// naming the key and what would be accepted, so a marketer can fix the file in one pass.
#pragma once

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "service/core/policy.h"

namespace sendgate::policy {

// `source` names the text in messages (usually the file path).
absl::StatusOr<std::shared_ptr<const core::Policy>> ParsePolicy(absl::string_view yaml,
                                                                absl::string_view source);

absl::StatusOr<std::shared_ptr<const core::Policy>> LoadPolicyFile(const std::string& path);

}  // namespace sendgate::policy
