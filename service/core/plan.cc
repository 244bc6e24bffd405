#include "service/core/plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "service/core/names.h"
#include "service/core/preferences.h"

namespace sendgate::core {
namespace {

bool Contains(const std::vector<uint32_t>& ids, uint32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

bool Partitioned(const Cap& cap, Field field) {
  return std::find(cap.per.begin(), cap.per.end(), field) != cap.per.end();
}

// What a record must carry to count: the cap's filters, and the message's own value for
// every `per` field (which already passed the filter).
std::vector<FieldMatch> MatchFor(const Cap& cap, const Message& message) {
  std::vector<FieldMatch> match;
  match.reserve(kFieldCount);
  for (int i = 0; i < kFieldCount; ++i) {
    const Field field = static_cast<Field>(i);
    if (Partitioned(cap, field)) {
      match.push_back({field, {message.id(field)}});
    } else if (!cap.only[i].empty()) {
      match.push_back({field, cap.only[i]});
    }
  }
  return match;
}

// The preference rules of `message`, its calendar windows' bounds from `calendar`.
PreferenceCheck PreferencesFor(const Policy& policy, const Message& message,
                               const Calendar& calendar) {
  PreferenceCheck check{.channel = message.id(Field::kChannel),
                        .subscription = message.id(Field::kSubscription),
                        .exempt = policy.categories[message.category].exempt};
  if (const Subscription* subscription = policy.SubscriptionById(check.subscription)) {
    check.opt_in = subscription->regime == Regime::kOptIn;
  }
  if (message.stored_timezone.has_value()) {
    check.timezone_fingerprint = TimeZoneFingerprint(*message.stored_timezone);
  }
  if (message.stored_segments.has_value()) {
    check.segments_fingerprint = SegmentsFingerprint(*message.stored_segments);
  }
  check.frequency_categories.reserve(policy.categories.size());
  for (const Category& category : policy.categories) {
    if (category.exempt.contact_frequency) continue;
    check.frequency_categories.push_back(category.id);
    check.frequency_counts_exempt = check.frequency_counts_exempt || category.exempt.caps;
  }
  check.day = calendar.day;
  check.week = calendar.week;
  check.month = calendar.month;
  return check;
}

// The capacity counters of `message`, sent at `at`: the contact's shard of each rule on its
// channel and category, in the interval holding `at`.
std::vector<CapacityCheck> CapacityFor(const Policy& policy, const Message& message,
                                       absl::Time at) {
  std::vector<CapacityCheck> checks;
  checks.reserve(policy.capacity.size());
  for (size_t i = 0; i < policy.capacity.size(); ++i) {
    const Capacity& rule = policy.capacity[i];
    if (!Contains(rule.channels, message.id(Field::kChannel)) ||
        (!rule.categories.empty() && !Contains(rule.categories, message.id(Field::kCategory)))) {
      continue;
    }
    const WindowBounds interval =
        IntervalAt(rule.interval, at, policy.default_timezone, policy.week_starts);
    const int shard = CapacityShard(message.contact_id, rule.shards);
    checks.push_back({.rule = static_cast<int>(i),
                      .counter = absl::StrCat(rule.id, ":", shard, ":",
                                              absl::ToUnixMillis(interval.start)),
                      .end = interval.end,
                      .limit = rule.ShareOf(shard)});
  }
  return checks;
}

}  // namespace

int CapacityShard(absl::string_view contact_id, int shards) {
  return static_cast<int>(Spread(MessageHash(contact_id)) % static_cast<uint64_t>(shards));
}

bool HasPartition(Field field, uint32_t id) { return id != 0 || field == Field::kEdition; }

bool CapApplies(const Cap& cap, const Message& message) {
  for (int i = 0; i < kFieldCount; ++i) {
    if (!cap.only[i].empty() && !Contains(cap.only[i], message.ids[i])) return false;
  }
  for (Field field : cap.per) {
    if (!HasPartition(field, message.id(field))) return false;
  }
  return true;
}

bool CountsExempt(const Policy& policy, const Cap& cap) {
  for (const Category& category : policy.categories) {
    if (category.exempt.caps &&
        Contains(cap.only[static_cast<int>(Field::kCategory)], category.id)) {
      return true;
    }
  }
  return false;
}

int64_t EffectiveLimit(const Cap& cap, const std::vector<std::string>& segments) {
  int64_t limit = cap.limit;
  bool in_listed_segment = false;
  for (const SegmentLimit& segment_limit : cap.segment_limits) {
    if (std::find(segments.begin(), segments.end(), segment_limit.segment) == segments.end())
      continue;
    if (cap.first_segment_wins) return segment_limit.limit;
    limit = in_listed_segment ? std::min(limit, segment_limit.limit) : segment_limit.limit;
    in_listed_segment = true;
  }
  return limit;
}

int64_t Reserved(const Cap& cap, int priority) {
  int64_t keep = 0;
  for (const Reserve& reserve : cap.reserves) {
    if (priority < reserve.below_priority) keep = std::max(keep, reserve.keep);
  }
  return keep;
}

CheckPlan PlanCheck(const Policy& policy, const Message& message, absl::Time server_now) {
  // History keeps milliseconds: every instant of the plan is whole milliseconds, so that the
  // script (which sees milliseconds) and the C++ reference draw the same window bounds.
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(server_now));
  CheckPlan plan;
  // A message cannot go out in the past: it is counted when it can go, so that a backdated
  // request lands in the windows of now. Expiry and max_delay still run from the intended
  // send_at.
  const absl::Time at = std::max(message.send_at, now);
  plan.contact_id = message.contact_id;
  plan.send = SendRecord{.at = at,
                         .message_hash = MessageHash(message.message_id),
                         .ids = message.ids,
                         .weight = static_cast<uint16_t>(message.weight),
                         .priority = static_cast<uint8_t>(message.priority)};
  const Calendar calendar = CalendarAt(at, message.timezone, policy.week_starts);
  plan.caps.reserve(policy.caps.size());
  for (size_t i = 0; i < policy.caps.size(); ++i) {
    const Cap& cap = policy.caps[i];
    if (!CapApplies(cap, message)) continue;
    const WindowBounds bounds = BoundsIn(cap.window, at, calendar);
    plan.caps.push_back(CapCheck{.cap = static_cast<int>(i),
                                 .counts_exempt = CountsExempt(policy, cap),
                                 .start = bounds.start,
                                 .end = bounds.end,
                                 .slide = bounds.slide,
                                 .limit = std::max<int64_t>(
                                     EffectiveLimit(cap, message.segments) -
                                         Reserved(cap, message.priority),
                                     0),
                                 .reserved = Reserved(cap, message.priority),
                                 .match = MatchFor(cap, message)});
  }
  plan.preferences = PreferencesFor(policy, message, calendar);
  plan.capacity = CapacityFor(policy, message, at);
  plan.deny_after = DenyAfter(policy, message);
  plan.exempt = policy.categories[message.category].exempt.caps;
  plan.retention = policy.Retention();
  plan.planned_grace = policy.plan_grace;
  // Every record is at or after the decision that wrote it, so a record kept `retention`
  // after its own time stays replayable for the idempotency window from that decision on.
  plan.keep_after = now - plan.retention;
  plan.trim_before = plan.keep_after - plan.retention / 8;
  plan.now = now;
  plan.dry_run = message.dry_run;
  return plan;
}

absl::Duration MaxDelayFor(const Policy& policy, const Message& message) {
  if (message.program >= 0 && policy.programs[message.program].max_delay.has_value()) {
    return *policy.programs[message.program].max_delay;
  }
  return policy.categories[message.category].max_delay.value_or(policy.max_delay);
}

absl::Time ExpiresAt(const Policy& policy, const Message& message) {
  if (message.expires_at.has_value()) return *message.expires_at;
  if (message.program >= 0 && policy.programs[message.program].expires_end_of_local_day) {
    return absl::FromCivil(absl::ToCivilDay(message.send_at, message.timezone) + 1,
                           message.timezone);
  }
  return absl::InfiniteFuture();
}

absl::Time DenyAfter(const Policy& policy, const Message& message) {
  return std::min(ExpiresAt(policy, message), message.send_at + MaxDelayFor(policy, message));
}

}  // namespace sendgate::core
