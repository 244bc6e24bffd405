#include "service/core/decision.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "service/core/plan.h"
#include "service/core/preference_rules.h"
#include "service/core/preferences.h"
#include "service/core/stateless_rules.h"

namespace sendgate::core {
namespace {

std::string DescribeDuration(absl::Duration duration) {
  Window window{.kind = WindowKind::kRolling, .length = duration};
  return window.Describe().substr(absl::string_view("rolling ").size());
}

// Why the room the cap finds is no use to this message, or "" when it is.
std::string TooLate(const Policy& policy, const Message& message, absl::Time room_at) {
  if (room_at == absl::InfiniteFuture()) return "; this message weighs more than the limit";
  const absl::Time expires_at = ExpiresAt(policy, message);
  if (room_at > expires_at) {
    return absl::StrCat(", after the message expires at ", LocalTime(expires_at, message.timezone));
  }
  if (room_at > message.send_at + MaxDelayFor(policy, message)) {
    return absl::StrCat(", beyond the policy's maximum delay of ",
                        DescribeDuration(MaxDelayFor(policy, message)));
  }
  return "";
}

Reason CapReason(const Policy& policy, const Message& message, const CapCheck& check,
                 const CapResult& result) {
  const Cap& cap = policy.caps[check.cap];
  // Full for this message only because of a reserve or of planned sends that outrank it: the
  // cap has room for higher priorities.
  const bool for_higher = (check.reserved > 0 || result.planned > 0) &&
                          result.used + message.weight <= check.limit + check.reserved;
  std::string text = absl::StrFormat("%s: %d of %d used", cap.description, result.used,
                                     check.limit + check.reserved);
  if (for_higher && check.reserved > 0) {
    absl::StrAppend(&text, absl::StrFormat(", the last %d kept for messages of higher priority "
                                           "than %d",
                                           check.reserved, message.priority));
  }
  if (for_higher && result.planned > 0) {
    absl::StrAppend(&text, absl::StrFormat(", %d kept for planned sends that come first (higher "
                                           "priority, or announced earlier)",
                                           result.planned));
  }
  if (result.room_at != absl::InfiniteFuture()) {
    absl::StrAppend(&text, "; room again at ", LocalTime(result.room_at, message.timezone));
  }
  absl::StrAppend(&text, TooLate(policy, message, result.room_at), ".");
  return Reason{.code = for_higher ? ReasonCode::kLowerPriority : ReasonCode::kCapReached,
                .rule_id = cap.id,
                .used = result.used,
                .limit = check.limit + check.reserved,
                .message = std::move(text)};
}

// Caps: every full cap of the plan.
void CapReasons(const Policy& policy, const Message& message, const CheckPlan& plan,
                const CheckResult& result, std::vector<Reason>& reasons) {
  for (size_t i = 0; i < plan.caps.size() && i < result.caps.size(); ++i) {
    if (result.caps[i].full()) {
      reasons.push_back(CapReason(policy, message, plan.caps[i], result.caps[i]));
    }
  }
}

// Capacity: every full counter of the plan.
void CapacityReasons(const Policy& policy, const Message& message, const CheckPlan& plan,
                     const CheckResult& result, std::vector<Reason>& reasons) {
  for (size_t i = 0; i < plan.capacity.size() && i < result.capacity.size(); ++i) {
    const CapResult& counter = result.capacity[i];
    if (!counter.full()) continue;
    const CapacityCheck& check = plan.capacity[i];
    const Capacity& rule = policy.capacity[check.rule];
    std::string text = absl::StrFormat(
        "%s: full for now (%d of the %d this contact's share of %d counters may take); room "
        "again at %s",
        rule.description, counter.used, check.limit, rule.shards,
        LocalTime(counter.room_at, message.timezone));
    absl::StrAppend(&text, TooLate(policy, message, counter.room_at), ".");
    reasons.push_back(Reason{.code = ReasonCode::kCapacity,
                             .rule_id = rule.id,
                             .used = counter.used,
                             .limit = check.limit,
                             .message = std::move(text)});
  }
}

// The sentence of a preference rule's verdict.
std::string VerdictText(const Policy& policy, const Message& message, const RuleVerdict& verdict) {
  const std::string channel = policy.NameOf(Field::kChannel, message.id(Field::kChannel));
  const std::string subscription =
      policy.NameOf(Field::kSubscription, message.id(Field::kSubscription));
  switch (verdict.code) {
    case ReasonCode::kSuppressed:
      return "The contact was erased after opting out: its marketing stays suppressed.";
    case ReasonCode::kOptedOut: return "The contact opted out of all marketing.";
    case ReasonCode::kChannelBlocked:
      return absl::StrCat("The contact's ", channel, " is blocked (",
                          BlockReasonName(static_cast<BlockReason>(verdict.detail)), ").");
    case ReasonCode::kUnsubscribed:
      return absl::StrCat("The contact unsubscribed from ", subscription, " on ", channel, ".");
    case ReasonCode::kNotOptedIn:
      return absl::StrCat(subscription, " is opt-in, and the contact has not opted in on ",
                          channel, ".");
    case ReasonCode::kPaused:
      return absl::StrCat("The contact paused ",
                          verdict.detail == kPauseOfChannel ? channel : "messages", " until ",
                          LocalTime(verdict.at, message.timezone),
                          TooLate(policy, message, verdict.at), ".");
    case ReasonCode::kContactFrequency: {
      std::string text = absl::StrFormat("The contact's own limit on %s: %d of %d used", channel,
                                         verdict.used, verdict.limit);
      if (verdict.at != absl::InfiniteFuture()) {
        absl::StrAppend(&text, "; room again at ", LocalTime(verdict.at, message.timezone));
      }
      return absl::StrCat(text, TooLate(policy, message, verdict.at), ".");
    }
    default: return "";
  }
}

// The rule a preference reason is about: the subscription for consent, the channel for
// blocks, the contact's own limit and a pause of the channel.
std::string VerdictRule(const Policy& policy, const Message& message, const RuleVerdict& verdict) {
  switch (verdict.code) {
    case ReasonCode::kUnsubscribed:
    case ReasonCode::kNotOptedIn:
      return policy.NameOf(Field::kSubscription, message.id(Field::kSubscription));
    case ReasonCode::kPaused:
      if (verdict.detail != kPauseOfChannel) return "";
      [[fallthrough]];
    case ReasonCode::kChannelBlocked:
    case ReasonCode::kContactFrequency:
      return policy.NameOf(Field::kChannel, message.id(Field::kChannel));
    default: return "";
  }
}

// Preferences: every rule on the contact's stored choices that holds the message back.
void PreferenceReasons(const Policy& policy, const Message& message, const CheckPlan&,
                       const CheckResult& result, std::vector<Reason>& reasons) {
  for (const RuleVerdict& verdict : result.verdicts) {
    reasons.push_back(Reason{.code = verdict.code,
                             .rule_id = VerdictRule(policy, message, verdict),
                             .used = verdict.used,
                             .limit = verdict.limit,
                             .message = VerdictText(policy, message, verdict)});
  }
}

using StoreRuleReasons = void (*)(const Policy&, const Message&, const CheckPlan&,
                                  const CheckResult&, std::vector<Reason>&);

// The reasons of each rule the store checks, in the order the rules apply; a new
// rule on the contact's stored state adds its own here (and its part of decide.lua).
constexpr StoreRuleReasons kStoreRules[] = {&PreferenceReasons, &CapReasons, &CapacityReasons};

// A DEFER's retry_at moved to the next instant quiet hours allow, or a DENY when that is too
// late. (Redis saw a DEFER, which it does not record: this DENY is not replayed.) Room that a
// cap or a pause finds stays once found, so that instant satisfies every rule at once.
void QuietRetry(const Policy& policy, const Message& message, const CheckPlan& plan,
                Decision& decision) {
  const Opening opening = NextOpening(policy, message, *decision.retry_at);
  if (opening.rule == nullptr) {
    // Held now by quiet hours too, though not at the retry: say so.
    if (plan.opens_at != absl::InfinitePast()) {
      decision.reasons.push_back(QuietReason(
          message, NextOpening(policy, message, std::max(message.send_at, plan.now)), false));
    }
    return;
  }
  const bool too_late = opening.at > DenyAfter(policy, message);
  decision.reasons.push_back(QuietReason(message, opening, too_late));
  if (too_late) {
    decision.outcome = Outcome::kDeny;
    decision.retry_at.reset();
  } else {
    decision.retry_at = opening.at;
  }
}

Decision ReplayDecision(const Message& message, const CheckResult& result) {
  Decision decision{.replayed = true};
  if (result.outcome == CheckOutcome::kReplayAllowed) {
    decision.outcome = Outcome::kAllow;
    return decision;
  }
  decision.outcome = Outcome::kDeny;
  decision.reasons.push_back(Reason{
      .code = static_cast<ReasonCode>(result.replay_code),
      .message = absl::StrCat("This message_id was denied at ",
                              LocalTime(result.replay_at, message.timezone),
                              "; the first decision stands.")});
  return decision;
}

}  // namespace

std::string LocalTime(absl::Time at, absl::TimeZone zone) {
  return absl::FormatTime("%Y-%m-%d %H:%M %Z", at, zone);
}

std::variant<Decision, CheckPlan> StartDecision(const Policy& policy, const Message& message,
                                                absl::Time now) {
  if (std::optional<Decision> decision = DecideStateless(policy, message, now)) return *decision;
  const Opening opening = NextOpening(policy, message, std::max(message.send_at, now));
  if (opening.rule == nullptr) return PlanCheck(policy, message, now);
  // Quiet hours: the message waits for the opening, or cannot wait that long.
  const absl::Time deny_after = DenyAfter(policy, message);
  if (opening.at > deny_after) {
    return Decision{.outcome = Outcome::kDeny, .reasons = {QuietReason(message, opening, true)}};
  }
  // The contact's state as it will be at the opening, recording nothing: the answer is a
  // DEFER to the opening, or to the first instant after it that every rule allows.
  Message at_opening = message;
  at_opening.send_at = opening.at;
  at_opening.dry_run = true;
  CheckPlan plan = PlanCheck(policy, at_opening, now);
  plan.deny_after = deny_after;
  plan.opens_at = opening.at;
  return plan;
}

Decision DecisionFromCheck(const Policy& policy, const Message& message, const CheckPlan& plan,
                           const CheckResult& result) {
  switch (result.outcome) {
    case CheckOutcome::kReplayAllowed:
    case CheckOutcome::kReplayDenied:
      return ReplayDecision(message, result);
    case CheckOutcome::kAllowed:
      if (plan.opens_at == absl::InfinitePast()) return Decision{.outcome = Outcome::kAllow};
      return Decision{.outcome = Outcome::kDefer,
                      .reasons = {QuietReason(message, NextOpening(policy, message,
                                                                   std::max(message.send_at,
                                                                            plan.now)),
                                              false)},
                      .retry_at = plan.opens_at};
    case CheckOutcome::kDeferred:
    case CheckOutcome::kDenied:
      break;
    case CheckOutcome::kProfileChanged:  // the Decider plans again; never decided as such
      return FailModeDecision(policy, message, plan.now, "the contact's profile kept changing");
  }
  Decision decision;
  decision.outcome =
      result.outcome == CheckOutcome::kDeferred ? Outcome::kDefer : Outcome::kDeny;
  if (decision.outcome == Outcome::kDefer) decision.retry_at = result.retry_at;
  for (StoreRuleReasons rule : kStoreRules) {
    rule(policy, message, plan, result, decision.reasons);
  }
  if (decision.outcome == Outcome::kDefer) QuietRetry(policy, message, plan, decision);
  return decision;
}

Decision FailModeDecision(const Policy& policy, const Message& message, absl::Time now,
                          absl::string_view cause) {
  const Category& category = policy.categories[message.category];
  Decision decision{.degraded = true};
  std::string text = absl::StrCat("sendgate could not use its store (", cause, ")");
  switch (category.on_store_failure) {
    case FailMode::kAllow:
      decision.outcome = Outcome::kAllow;
      absl::StrAppend(&text, "; ", category.name, " messages are allowed then (fail-open).");
      break;
    case FailMode::kDeny:
      decision.outcome = Outcome::kDeny;
      absl::StrAppend(&text, "; ", category.name, " messages are denied then (fail-closed).");
      break;
    case FailMode::kDefer: {
      const absl::Time retry_at =
          NextOpening(policy, message, now + policy.store_failure_retry).at;
      const bool too_late = retry_at > DenyAfter(policy, message);
      decision.outcome = too_late ? Outcome::kDeny : Outcome::kDefer;
      if (!too_late) decision.retry_at = retry_at;
      absl::StrAppend(&text, "; ", category.name, " messages are deferred then",
                      too_late ? ", and this one cannot wait that long." : ".");
      break;
    }
  }
  decision.reasons.push_back(
      Reason{.code = ReasonCode::kStoreUnavailable, .message = std::move(text)});
  return decision;
}

}  // namespace sendgate::core
