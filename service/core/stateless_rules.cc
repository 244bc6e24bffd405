#include "service/core/stateless_rules.h"

#include "absl/strings/str_cat.h"

namespace sendgate::core {
namespace {

// A message past its expires_at is worthless: DENY, whatever its history says.
std::optional<Decision> Expiry(const Policy&, const Message& message, absl::Time now) {
  if (!message.expires_at.has_value() || *message.expires_at > now) return std::nullopt;
  return Decision{
      .outcome = Outcome::kDeny,
      .reasons = {Reason{.code = ReasonCode::kExpired,
                         .message = absl::StrCat("The message expired at ",
                                                 LocalTime(*message.expires_at, message.timezone),
                                                 ".")}}};
}

using StatelessRule = std::optional<Decision> (*)(const Policy&, const Message&, absl::Time);

// In the order they apply; a new rule that needs no stored state goes here.
constexpr StatelessRule kStatelessRules[] = {&Expiry};

}  // namespace

std::optional<Decision> DecideStateless(const Policy& policy, const Message& message,
                                        absl::Time now) {
  for (StatelessRule rule : kStatelessRules) {
    if (std::optional<Decision> decision = rule(policy, message, now)) return decision;
  }
  return std::nullopt;
}

}  // namespace sendgate::core
