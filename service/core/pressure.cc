#include "service/core/pressure.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "service/core/history.h"
#include "service/core/plan.h"
#include "service/core/stateless_rules.h"

namespace sendgate::core {
namespace {

// The per-field values a `per` cap is split into, as they appear in counted records.
std::map<FieldIds, std::string> Partitions(const Policy& policy, const Cap& cap,
                                           const CapCheck& unpartitioned,
                                           const History& history) {
  std::map<FieldIds, std::string> partitions;
  std::vector<SendRecord> records = history.main;
  if (unpartitioned.counts_exempt) {
    records.insert(records.end(), history.exempt.begin(), history.exempt.end());
  }
  for (const SendRecord& record : records) {
    // A record without a value for a `per` field is in no partition: such a cap never applies
    // to its message (CapApplies), so it does not count it either.
    const bool partitioned = std::all_of(cap.per.begin(), cap.per.end(), [&](Field field) {
      return HasPartition(field, record.id(field));
    });
    if (!partitioned || !Counts(unpartitioned, record)) continue;
    FieldIds key{};
    std::string label;
    for (Field field : cap.per) {
      key[static_cast<int>(field)] = record.id(field);
      absl::StrAppend(&label, label.empty() ? "" : ",", FieldName(field), "=",
                      policy.NameOf(field, record.id(field)));
    }
    partitions.emplace(key, std::move(label));
  }
  return partitions;
}

void AddCapUsage(const Policy& policy, int index, const History& history,
                 const std::vector<std::string>& segments, absl::TimeZone zone, absl::Time at,
                 std::vector<CapUsage>& usage) {
  const Cap& cap = policy.caps[index];
  const WindowBounds bounds = BoundsAt(cap.window, at, zone, policy.week_starts);
  CapCheck check{.cap = index,
                 .counts_exempt = CountsExempt(policy, cap),
                 .start = bounds.start,
                 .end = bounds.end,
                 .slide = bounds.slide,
                 .limit = EffectiveLimit(cap, segments)};
  for (int i = 0; i < kFieldCount; ++i) {
    if (!cap.only[i].empty()) check.match.push_back({static_cast<Field>(i), cap.only[i]});
  }
  const CapUsage base{.cap = index, .limit = check.limit, .start = bounds.start,
                      .end = bounds.end};
  if (cap.per.empty()) {
    usage.push_back(base);
    usage.back().used = Used(check, history);
    return;
  }
  for (const auto& [ids, label] : Partitions(policy, cap, check, history)) {
    CapCheck one = check;
    for (Field field : cap.per) one.match.push_back({field, {ids[static_cast<int>(field)]}});
    usage.push_back(base);
    usage.back().partition = label;
    usage.back().used = Used(one, history);
  }
}

ChannelRoom RoomOn(const Policy& policy, int channel, const History& history,
                   const std::vector<std::string>& segments, absl::TimeZone zone, absl::Time at) {
  Message probe{.channel = channel,
                .category = policy.default_category,
                .segments = segments,
                .timezone = zone,
                .send_at = at};
  probe.ids[static_cast<int>(Field::kChannel)] = policy.channels[channel].id;
  probe.ids[static_cast<int>(Field::kCategory)] = policy.categories[probe.category].id;
  ChannelRoom room{.channel = channel};
  // Quiet hours first: the caps are looked at as they will be at the opening.
  probe.send_at = NextOpening(policy, probe, at).at;
  if (probe.send_at == absl::InfiniteFuture()) return room;
  CheckPlan plan = PlanCheck(policy, probe, at);
  plan.send.message_hash = 0;  // matches no record: MessageHash() is never 0
  const CheckResult result = EvaluateCheck(plan, history);
  if (result.outcome == CheckOutcome::kAllowed) {
    room.next_allowed = probe.send_at;
  } else if (result.retry_at != absl::InfiniteFuture()) {
    const absl::Time opening = NextOpening(policy, probe, result.retry_at).at;
    if (opening != absl::InfiniteFuture()) room.next_allowed = opening;
  }
  return room;
}

}  // namespace

Pressure PressureAt(const Policy& policy, const History& history,
                    const std::vector<std::string>& segments, absl::TimeZone zone, absl::Time at) {
  Pressure pressure;
  for (size_t i = 0; i < policy.caps.size(); ++i) {
    AddCapUsage(policy, static_cast<int>(i), history, segments, zone, at, pressure.caps);
  }
  for (size_t i = 0; i < policy.channels.size(); ++i) {
    pressure.channels.push_back(RoomOn(policy, static_cast<int>(i), history, segments, zone, at));
  }
  return pressure;
}

}  // namespace sendgate::core
