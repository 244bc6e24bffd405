// A decision around its one store call (DESIGN.md's hot path, steps 2 to 4): StartDecision runs
// the rules that need no store and plans the store's check; DecisionFromCheck turns the store's
// answer into the decision a sending tool reads; FailModeDecision answers when the store cannot.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
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

// The decision when a rule that needs no store (stateless_rules.h) refuses or delays the
// message: no store call then. Otherwise the plan the store must check atomically.
// `now` is the server's clock, passed in so that tests control it.
std::variant<Decision, CheckPlan> StartDecision(const Policy& policy, const Message& message,
                                                absl::Time now);

// The store's answer to `plan` as a decision, with every reason of every rule that applies.
Decision DecisionFromCheck(const Policy& policy, const Message& message, const CheckPlan& plan,
                           const CheckResult& result);

// The policy's fail mode for the message's category, when the store could not answer: `cause`
// says why ("Redis did not answer in time"). Only for a message that StartDecision sent to the
// store: a message that could not go out anyway never reaches the fail mode.
Decision FailModeDecision(const Policy& policy, const Message& message, absl::Time now,
                          absl::string_view cause);

// "2026-11-30 09:00 CET": an instant as the contact lives it.
std::string LocalTime(absl::Time at, absl::TimeZone zone);

}  // namespace sendgate::core
