// Turns the store's answer into the decision a sending tool reads: DESIGN.md's hot path,
// step 4, and the fail-mode decision when the store cannot answer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "service/core/check_plan.h"
#include "service/core/message.h"
#include "service/core/policy.h"

namespace sendgate::core {

enum class Outcome { kAllow = 1, kDeny = 2, kDefer = 3 };

struct Reason {
  ReasonCode code;
  std::string rule_id;
  int64_t used = 0;
  int64_t limit = 0;
  std::string message;  // one sentence a marketer understands
};

struct Decision {
  Outcome outcome = Outcome::kDeny;
  std::vector<Reason> reasons;
  std::optional<absl::Time> retry_at;  // kDefer only
  bool replayed = false;
  bool degraded = false;  // decided by the fail mode, without the store
};

Decision DecisionFromCheck(const Policy& policy, const Message& message, const CheckPlan& plan,
                           const CheckResult& result);

// The policy's fail mode for the message's category, when the store could not be asked.
Decision DecisionWithoutStore(const Policy& policy, const Message& message, absl::Time now);

// "2026-11-30 09:00 CET": an instant as the contact lives it.
std::string LocalTime(absl::Time at, absl::TimeZone zone);

}  // namespace sendgate::core
