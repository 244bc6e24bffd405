#include "service/api/decider.h"

#include <variant>

#include "service/policy/time_zones.h"
#include "service/store/store_error.h"

namespace sendgate::api {
namespace {

// Plans made with a profile that then changed: a third attempt would only be needed if the
// contact's profile changed twice during one decision.
constexpr int kAttempts = 3;

}  // namespace

void FollowProfile(const core::Policy& policy, const core::StoredProfile& profile,
                   core::Message& message) {
  if (message.stored_timezone.has_value()) {
    message.stored_timezone = profile.timezone;
    message.timezone = policy::FindTimeZone(profile.timezone).value_or(policy.default_timezone);
  }
  if (message.stored_segments.has_value()) {
    message.stored_segments = profile.segments;
    message.segments = profile.segments;
  }
}

absl::Time Decider::StoreDeadline(absl::Time caller_deadline) const {
  const absl::Time now = clock_.Now();
  const absl::Time by_timeout = now + options_.store_timeout;
  if (caller_deadline >= by_timeout) return by_timeout;
  return caller_deadline - options_.deadline_margin - (caller_deadline - now) / 10;
}

void Decider::Decide(std::shared_ptr<const core::Policy> policy, core::Message message,
                     absl::Time caller_deadline, DecisionCallback done,
                     std::optional<Shadow> shadow) {
  if (message.stored_timezone.has_value() || message.stored_segments.has_value()) {
    if (std::optional<core::StoredProfile> known = profiles_.Find(message.contact_id)) {
      FollowProfile(*policy, *known, message);
      if (shadow && shadow->policy) FollowProfile(*shadow->policy, *known, shadow->message);
    }
  }
  Attempt(std::move(policy), std::move(message), StoreDeadline(caller_deadline), 1, std::move(done),
          std::move(shadow));
}

void Decider::Attempt(std::shared_ptr<const core::Policy> policy, core::Message message,
                      absl::Time store_deadline, int attempt, DecisionCallback done,
                      std::optional<Shadow> shadow) {
  const absl::Time now = clock_.Now();
  std::variant<core::Decision, core::CheckPlan> start = core::StartDecision(*policy, message, now);
  // The candidate's decision when it needs no store; else its plan rides on this one's.
  std::optional<core::Decision> candidate;
  std::optional<core::CheckPlan> candidate_plan;
  if (shadow && shadow->policy == nullptr) {
    candidate = core::Decision{};  // replaced by `compared` itself (ArbiterService::ShadowOf)
  } else if (shadow) {
    std::variant<core::Decision, core::CheckPlan> own =
        core::StartDecision(*shadow->policy, shadow->message, now);
    if (auto* decided = std::get_if<core::Decision>(&own))
      candidate = std::move(*decided);
    else
      candidate_plan = std::get<core::CheckPlan>(std::move(own));
  }
  if (auto* decision = std::get_if<core::Decision>(&start)) {
    if (shadow) shadow->compared(*decision, std::move(candidate));
    done(std::move(*decision), absl::OkStatus());
    return;
  }
  auto plan = std::make_unique<core::CheckPlan>(std::get<core::CheckPlan>(std::move(start)));
  plan->preferences.suppression_hash = hasher_.Hash(message.contact_id);
  if (candidate_plan) {
    candidate_plan->preferences.suppression_hash = plan->preferences.suppression_hash;
    plan->shadow = std::make_shared<const core::CheckPlan>(std::move(*candidate_plan));
  }
  const core::CheckPlan& plan_ref = *plan;
  store_.Check(
      plan_ref, store_deadline,
      [this, policy = std::move(policy), message = std::move(message), plan = std::move(plan),
       store_deadline, attempt, done = std::move(done), shadow = std::move(shadow),
       candidate = std::move(candidate)](absl::StatusOr<core::CheckResult> result) mutable {
        if (!result.ok()) {
          const absl::string_view cause = store::KindCause(store::KindOf(result.status()));
          core::Decision decision = core::FailModeDecision(*policy, message, clock_.Now(), cause);
          if (shadow) shadow->compared(decision, std::nullopt);
          done(std::move(decision), result.status());
          return;
        }
        if (result->outcome == core::CheckOutcome::kProfileChanged && attempt < kAttempts) {
          profiles_.Remember(message.contact_id, result->profile);
          FollowProfile(*policy, result->profile, message);
          if (shadow && shadow->policy) {
            FollowProfile(*shadow->policy, result->profile, shadow->message);
          }
          Attempt(std::move(policy), std::move(message), store_deadline, attempt + 1,
                  std::move(done), std::move(shadow));
          return;
        }
        core::Decision decision = core::DecisionFromCheck(*policy, message, *plan, *result);
        if (shadow) {
          if (result->shadow != nullptr && plan->shadow != nullptr && shadow->policy) {
            candidate = core::DecisionFromCheck(*shadow->policy, shadow->message, *plan->shadow,
                                                *result->shadow);
          }
          if (decision.replayed) candidate.reset();
          shadow->compared(decision, std::move(candidate));
        }
        done(std::move(decision), absl::OkStatus());
      });
}

}  // namespace sendgate::api
