// The store: where contacts' send histories live. One interface, one real implementation
// (RedisStore); the layers above are tested with a fake (tests/unit/fake_store.h).
#pragma once

#include "absl/strings/string_view.h"
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/core/check_plan.h"
#include "service/core/history.h"
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
  // The contact's history as stored.
  virtual void ReadHistory(absl::string_view contact_id, absl::Time deadline,
                           HistoryCallback done) = 0;

  // True when the store can currently be reached (for readiness and metrics).
  virtual bool healthy() const = 0;
};

}  // namespace sendgate::store
