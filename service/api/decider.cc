#include "service/api/decider.h"

#include <variant>

#include "service/store/store_error.h"

namespace sendgate::api {

absl::Time Decider::StoreDeadline(absl::Time caller_deadline) const {
  const absl::Time now = clock_.Now();
  const absl::Time by_timeout = now + options_.store_timeout;
  if (caller_deadline >= by_timeout) return by_timeout;
  return caller_deadline - options_.deadline_margin - (caller_deadline - now) / 10;
}

void Decider::Decide(std::shared_ptr<const core::Policy> policy, core::Message message,
                     absl::Time caller_deadline, DecisionCallback done) {
  std::variant<core::Decision, core::CheckPlan> start =
      core::StartDecision(*policy, message, clock_.Now());
  if (auto* decision = std::get_if<core::Decision>(&start)) {
    done(std::move(*decision), absl::OkStatus());
    return;
  }
  auto plan = std::make_unique<core::CheckPlan>(std::get<core::CheckPlan>(std::move(start)));
  const core::CheckPlan& plan_ref = *plan;
  store_.Check(plan_ref, StoreDeadline(caller_deadline),
               [this, policy = std::move(policy), message = std::move(message),
                plan = std::move(plan), done = std::move(done)](
                   absl::StatusOr<core::CheckResult> result) mutable {
                 if (!result.ok()) {
                   const absl::string_view cause = store::KindCause(store::KindOf(result.status()));
                   done(core::FailModeDecision(*policy, message, clock_.Now(), cause),
                        result.status());
                   return;
                 }
                 done(core::DecisionFromCheck(*policy, message, *plan, *result),
                      absl::OkStatus());
               });
}

}  // namespace sendgate::api
