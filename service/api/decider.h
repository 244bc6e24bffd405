// The hot path without gRPC: a validated message goes through the rules that need no store,
// then (unless one of them refused or delayed it) one store call, and becomes a decision; when
// the store cannot answer, the policy's fail mode decides instead.
// A request that leaves out the contact's time zone or segments is planned with the stored
// profile this replica last learned (ProfileCache); when the store says the profile is another,
// it is planned again with that one: a second round trip, once per contact and replica.
// Plain C++ so that it is tested directly (tests/unit/decider_test.cc, with a fake store).
#pragma once

#include <memory>
#include <optional>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "service/api/clock.h"
#include "service/api/contact_hash.h"
#include "service/api/profile_cache.h"
#include "service/core/decision.h"
#include "service/core/message.h"
#include "service/core/policy.h"
#include "service/store/store.h"

namespace sendgate::api {

struct DeciderOptions {
  // The longest a decision waits for Redis before the fail mode answers.
  absl::Duration store_timeout = absl::Milliseconds(250);
  // Kept free before the caller's gRPC deadline, so that the answer arrives in time: this plus
  // a tenth of the time the caller allows (scheduling delays grow with load).
  absl::Duration deadline_margin = absl::Milliseconds(5);
};

// Why a decision was made without the store (for metrics and logs), or OK.
using DecisionCallback = absl::AnyInvocable<void(core::Decision, absl::Status store_status)>;

// Shadow mode: a candidate policy decides the same request beside the policy in force, in the
// same store call, and is never enforced nor recorded.
struct Shadow {
  // Null when the candidate refuses the request outright: `compared` then says so itself.
  std::shared_ptr<const core::Policy> policy;
  core::Message message;  // the request as the candidate policy reads it
  // Called once, before the decision's callback, with the decision in force and the
  // candidate's; nullopt when the candidate's could not be had without another store call
  // (the decision in force needed none, was a replay, or the store failed).
  absl::AnyInvocable<void(const core::Decision& active, std::optional<core::Decision> candidate)>
      compared;
};

class Decider {
 public:
  // `hasher` names the contact in the suppression list; `profiles` is this replica's hint of
  // stored profiles. Both outlive the Decider.
  Decider(store::Store& store, const Clock& clock, DeciderOptions options,
          const ContactHasher& hasher, ProfileCache& profiles)
      : store_(store), clock_(clock), options_(options), hasher_(hasher), profiles_(profiles) {}

  // Calls `done` exactly once, on a store thread or this one. `caller_deadline` is the gRPC
  // deadline (InfiniteFuture when none).
  void Decide(std::shared_ptr<const core::Policy> policy, core::Message message,
              absl::Time caller_deadline, DecisionCallback done,
              std::optional<Shadow> shadow = std::nullopt);

  // The instant by which the store must answer a call made now.
  absl::Time StoreDeadline(absl::Time caller_deadline) const;

 private:
  // Plans, with the profile as known, and asks the store; again when it has changed.
  void Attempt(std::shared_ptr<const core::Policy> policy, core::Message message,
               absl::Time store_deadline, int attempt, DecisionCallback done,
               std::optional<Shadow> shadow);

  store::Store& store_;
  const Clock& clock_;
  const DeciderOptions options_;
  const ContactHasher& hasher_;
  ProfileCache& profiles_;
};

// Makes `message` follow `profile` for what its request left out (time zone, segments).
void FollowProfile(const core::Policy& policy, const core::StoredProfile& profile,
                   core::Message& message);

}  // namespace sendgate::api
