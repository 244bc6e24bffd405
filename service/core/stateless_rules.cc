#include "service/core/stateless_rules.h"

#include <algorithm>

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

bool Applies(const QuietHours& rule, const Policy& policy, const Message& message) {
  auto listed = [](const std::vector<int>& list, int index) {
    return list.empty() || std::find(list.begin(), list.end(), index) != list.end();
  };
  const bool in_segment =
      rule.segments.empty() ||
      std::any_of(rule.segments.begin(), rule.segments.end(), [&](const std::string& segment) {
        return std::find(message.segments.begin(), message.segments.end(), segment) !=
               message.segments.end();
      });
  return !policy.categories[message.category].exempt.quiet_hours && in_segment &&
         listed(rule.channels, message.channel) && listed(rule.categories, message.category);
}

// Rounds of NextOpening: each moves past one rule's closed time; rules that keep closing each
// other's openings (none a valid policy has) give up as closed.
constexpr int kOpeningRounds = 64;

}  // namespace

Opening NextOpening(const Policy& policy, const Message& message, absl::Time at) {
  Opening opening{.at = at};
  for (int round = 0; round < kOpeningRounds; ++round) {
    bool moved = false;
    for (const QuietHours& rule : policy.quiet_hours) {
      if (!Applies(rule, policy, message)) continue;
      const absl::Time next = NextAllowed(rule, policy.holidays, opening.at, message.timezone);
      if (next == opening.at) continue;
      opening = {.at = next, .rule = &rule};
      if (next == absl::InfiniteFuture()) return opening;
      moved = true;
    }
    if (!moved) return opening;
  }
  return {.at = absl::InfiniteFuture(), .rule = opening.rule};
}

Reason QuietReason(const Message& message, const Opening& opening, bool too_late) {
  std::string text = absl::StrCat(opening.rule->description, " (", message.timezone.name(), ")");
  if (opening.at == absl::InfiniteFuture()) {
    absl::StrAppend(&text, "; no allowed time within 400 days.");
  } else {
    absl::StrAppend(&text, "; next allowed at ", LocalTime(opening.at, message.timezone),
                    too_late ? ", too late for this message." : ".");
  }
  return Reason{.code = ReasonCode::kQuietHours, .rule_id = opening.rule->id,
                .message = std::move(text)};
}

std::optional<Decision> DecideStateless(const Policy& policy, const Message& message,
                                        absl::Time now) {
  for (StatelessRule rule : kStatelessRules) {
    if (std::optional<Decision> decision = rule(policy, message, now)) return decision;
  }
  return std::nullopt;
}

}  // namespace sendgate::core
