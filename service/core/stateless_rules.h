// The rules of a decision that need none of the contact's stored state: decided before the
// store is asked: expiry, and quiet hours with holidays (NextOpening, used by decision.cc to
// check the contact's state at the opening and to move a retry_at past closed hours). Each may
// only refuse (DENY) or delay (DEFER), never allow, so it is safe for a retried message whose
// first answer was lost, and it decides the same way whether Redis is up or down.
#pragma once

#include <optional>

#include "absl/time/time.h"
#include "service/core/decision.h"
#include "service/core/message.h"
#include "service/core/policy.h"

namespace sendgate::core {

// The decision of the first stateless rule that refuses or delays `message`, or nothing when
// every one lets it through to the store. `now` is the server's clock.
std::optional<Decision> DecideStateless(const Policy& policy, const Message& message,
                                        absl::Time now);

// Quiet hours: the earliest instant at or after `at` when every quiet-hours rule that applies
// to `message` allows it, and the rule that held it last (nullptr when none held it: `at`).
struct Opening {
  absl::Time at;
  const QuietHours* rule = nullptr;
};
Opening NextOpening(const Policy& policy, const Message& message, absl::Time at);

// The reason a message waits for `opening` (its rule set), or cannot wait that long.
Reason QuietReason(const Message& message, const Opening& opening, bool too_late);

}  // namespace sendgate::core
