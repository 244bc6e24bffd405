// Preference updates and erasures through the store, with optimistic concurrency: read the
// stored preferences (or a forgotten contact's suppression entry), apply the changes in core,
// write them only if nobody wrote in between, else read and apply again. Each write carries
// its consent event (the proof: what changed, the evidence, when) and its change-feed entry.
// Plain C++ with the store behind its interface, as the Decider is.
#pragma once

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sendgate/v1/preferences.pb.h"
#include "service/api/clock.h"
#include "service/api/contact_hash.h"
#include "service/api/preference_requests.h"
#include "service/api/profile_cache.h"
#include "service/core/policy.h"
#include "service/store/store.h"

namespace sendgate::api {

class PreferenceUpdater {
 public:
  PreferenceUpdater(store::Store& store, const ContactHasher& hasher, ProfileCache& profiles,
                    const Clock& clock)
      : store_(store), hasher_(hasher), profiles_(profiles), clock_(clock) {}

  struct Updated {
    core::Preferences preferences;  // as stored after the update
    bool changed = false;           // false: nothing to change, nothing written
  };
  using UpdateCallback = absl::AnyInvocable<void(absl::StatusOr<Updated>)>;
  // FAILED_PRECONDITION when update.expected_version is set and is not the stored version;
  // ABORTED when the contact's preferences keep changing under it. Store errors as they come.
  void Update(std::shared_ptr<const core::Policy> policy, PreferenceUpdate update,
              absl::Time deadline, UpdateCallback done);

  struct Forgotten {
    bool erased = false;      // something was stored
    bool suppressed = false;  // the contact had opted out of something, which stays
  };
  using ForgetCallback = absl::AnyInvocable<void(absl::StatusOr<Forgotten>)>;
  // FAILED_PRECONDITION without a suppression key.
  void Forget(std::string contact_id, v1::Evidence evidence, absl::Time deadline,
              ForgetCallback done);

 private:
  void UpdateAttempt(std::shared_ptr<const core::Policy> policy,
                     std::shared_ptr<const PreferenceUpdate> update, absl::Time deadline,
                     int attempt, UpdateCallback done);
  // The update changes nothing in `stored`: answered once the store confirms them as it
  // would a write (a retry may find its own write, which the replicas did not confirm).
  void Confirm(std::shared_ptr<const core::Policy> policy,
               std::shared_ptr<const PreferenceUpdate> update, core::Preferences stored,
               absl::Time deadline, int attempt, UpdateCallback done);
  void ForgetAttempt(std::shared_ptr<const std::pair<std::string, v1::Evidence>> request,
                     absl::Time deadline, int attempt, ForgetCallback done);

  store::Store& store_;
  const ContactHasher& hasher_;
  ProfileCache& profiles_;
  const Clock& clock_;
};

}  // namespace sendgate::api
