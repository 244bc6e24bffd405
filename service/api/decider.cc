#include "service/api/decider.h"

#include <algorithm>

#include "service/core/plan.h"

namespace sendgate::api {

absl::Time Decider::StoreDeadline(absl::Time caller_deadline) const {
  const absl::Time now = clock_.Now();
  const absl::Time by_timeout = now + options_.store_timeout;
  if (caller_deadline >= by_timeout) return by_timeout;
  return caller_deadline - options_.deadline_margin - (caller_deadline - now) / 10;
}

void Decider::Decide(std::shared_ptr<const core::Policy> policy, core::Message message,
                     absl::Time caller_deadline, DecisionCallback done) {
  const absl::Time now = clock_.Now();
  auto plan = std::make_unique<core::CheckPlan>(core::PlanCheck(*policy, message, now));
  const core::CheckPlan& plan_ref = *plan;
  store_.Check(plan_ref, StoreDeadline(caller_deadline),
               [this, policy = std::move(policy), message = std::move(message),
                plan = std::move(plan), done = std::move(done)](
                   absl::StatusOr<core::CheckResult> result) mutable {
                 if (!result.ok()) {
                   done(core::DecisionWithoutStore(*policy, message, clock_.Now()),
                        result.status());
                   return;
                 }
                 done(core::DecisionFromCheck(*policy, message, *plan, *result),
                      absl::OkStatus());
               });
}

}  // namespace sendgate::api
