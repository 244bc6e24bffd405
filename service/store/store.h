// The store: where contacts' send histories and preferences live. One interface, one real implementation
// (RedisStore); the layers above are tested with a fake (tests/unit/fake_store.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/core/check_plan.h"
#include "service/core/history.h"
#include "service/core/preferences.h"
#include "service/store/store_error.h"

namespace sendgate::store {

// Every call answers exactly once through its callback, by `deadline` at the latest, on a
// store thread or on the caller's own thread; never blocks the caller. A failure is a store
// error (store_error.h): its kind says what happened, and its code follows from the kind.
class Store {
 public:
  virtual ~Store() = default;

  using CheckCallback = absl::AnyInvocable<void(absl::StatusOr<core::CheckResult>)>;
  // Evaluates `plan` atomically for its contact (core/check_plan.h, one Redis round trip).
  virtual void Check(const core::CheckPlan& plan, absl::Time deadline, CheckCallback done) = 0;

  using CancelCallback = absl::AnyInvocable<void(absl::StatusOr<bool>)>;
  // Removes the counted send of `message_id`; true when there was one.
  virtual void Cancel(absl::string_view contact_id, absl::string_view message_id,
                      absl::Time deadline, CancelCallback done) = 0;

  using HistoryCallback = absl::AnyInvocable<void(absl::StatusOr<core::History>)>;
  // The contact's history as stored, its planned sends included.
  virtual void ReadHistory(absl::string_view contact_id, absl::Time deadline,
                           HistoryCallback done) = 0;

  using PlanCallback = absl::AnyInvocable<void(absl::Status)>;
  // Applies `changes` to the contact's planned sends at `now`, as core::PlanSends with
  // `grace` (Arbiter.Plan); one round trip.
  virtual void PlanSends(absl::string_view contact_id,
                         const std::vector<core::PlannedChange>& changes, absl::Time now,
                         absl::Duration grace, absl::Time deadline, PlanCallback done) = 0;

  // --- Preferences (preference centre): not on the decision path; each call is one or two
  // round trips. `suppression_hash` is the contact id's keyed hash, "" when no suppression
  // list is configured.

  struct StoredPreferences {
    core::Preferences preferences;  // version 0 when nothing is stored
    bool from_suppression = false;  // the contact was forgotten: its suppression entry
  };
  using PreferencesCallback = absl::AnyInvocable<void(absl::StatusOr<StoredPreferences>)>;
  virtual void ReadPreferences(absl::string_view contact_id, absl::string_view suppression_hash,
                               absl::Time deadline, PreferencesCallback done) = 0;

  // New preferences, written only if the stored ones are still at `read_version`.
  struct PreferencesWrite {
    std::string contact_id;
    int64_t read_version = 0;
    core::Preferences preferences;  // with its new version
    std::string consent_event;      // opaque: pushed on the contact's consent trail
    std::vector<std::pair<std::string, std::string>> feed_entry;  // the change feed's fields
  };
  // True when written, false when the version has moved (read again, apply again).
  using WriteCallback = absl::AnyInvocable<void(absl::StatusOr<bool>)>;
  virtual void WritePreferences(const PreferencesWrite& write, absl::Time deadline,
                                WriteCallback done) = 0;

  // For an update that finds its change already stored (a retry, say, of a write whose
  // replicas did not confirm it in time): acknowledges the stored preferences, still at
  // `read_version`, as a write would be, once the replicas a write waits for have them. True
  // when confirmed (at once where writes wait for no replica), false when the version has
  // moved (read again, apply again).
  virtual void ConfirmPreferences(absl::string_view contact_id, int64_t read_version,
                                  absl::Time deadline, WriteCallback done) = 0;

  // The contact's consent trail, newest first, as the opaque events written.
  using TrailCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>)>;
  virtual void ReadConsentTrail(absl::string_view contact_id, absl::Time deadline,
                                TrailCallback done) = 0;

  // Erases the contact if its preferences are still at `read_version`, leaving `suppression`
  // under its keyed hash in the suppression list.
  struct Erasure {
    std::string contact_id;
    int64_t read_version = 0;
    std::string suppression_hash;
    core::Preferences suppression;
    std::vector<std::pair<std::string, std::string>> feed_entry;
  };
  // Empty when the version has moved (read again); else whether anything was stored.
  using ForgetCallback = absl::AnyInvocable<void(absl::StatusOr<std::optional<bool>>)>;
  virtual void Forget(const Erasure& erasure, absl::Time deadline, ForgetCallback done) = 0;

  // True when the store can currently be reached (for readiness and metrics).
  virtual bool healthy() const = 0;
};

}  // namespace sendgate::store
