// The rules of a decision that need none of the contact's stored state: decided before the
// store is asked, in the order DESIGN.md lists them (expiry today; quiet hours and holidays
// next). Each may only refuse (DENY) or delay (DEFER), never allow, so it is safe for a retried
// message whose first answer was lost, and it decides the same way whether Redis is up or down.
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

}  // namespace sendgate::core
