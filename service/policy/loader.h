// Reads a pressure policy from YAML (policies/*.yaml; reference in docs/policy.md) into a
// validated core::Policy. Every problem found is reported, each as "file:line:column: message"
// naming the key and what would be accepted, so a marketer can fix the file in one pass.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/core/policy.h"

namespace sendgate::policy {

// A policy text larger than this is refused unread (a policy is a few KB).
inline constexpr size_t kMaxPolicyBytes = 1 << 20;

// `source` names the text in messages (usually the file path).
absl::StatusOr<std::shared_ptr<const core::Policy>> ParsePolicy(absl::string_view yaml,
                                                                absl::string_view source);

// A policy file's text, of at most kMaxPolicyBytes (NOT_FOUND when it cannot be opened).
absl::StatusOr<std::string> ReadPolicyFile(const std::string& path);

// ParsePolicy of ReadPolicyFile(path), named by `path`.
absl::StatusOr<std::shared_ptr<const core::Policy>> LoadPolicyFile(const std::string& path);

// A shadow candidate policy (--shadow_policy) as sendgate reads it: none (nullptr) when the
// file is missing or holds only white space, else LoadPolicyFile's answer.
absl::StatusOr<std::shared_ptr<const core::Policy>> LoadCandidatePolicyFile(
    const std::string& path);

}  // namespace sendgate::policy
