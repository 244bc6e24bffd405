#include "service/core/history.h"

#include <algorithm>

#include "service/core/preference_rules.h"

namespace sendgate::core {
namespace {

// Records of `history` that `cap` counts, in list order (main, then exempt).
std::vector<const SendRecord*> Counted(const CapCheck& cap, const History& history) {
  std::vector<const SendRecord*> counted;
  auto scan = [&](const std::vector<SendRecord>& list) {
    for (const SendRecord& record : list) {
      if (Counts(cap, record)) counted.push_back(&record);
    }
  };
  scan(history.main);
  if (cap.counts_exempt) scan(history.exempt);
  return counted;
}

const SendRecord* FindMessage(const CheckPlan& plan, const History& history) {
  const uint64_t hash = plan.send.message_hash;
  for (const SendRecord& record : history.main) {
    if (record.message_hash == hash) return &record;
  }
  if (!plan.exempt) return nullptr;
  const size_t from = history.exempt.size() > kExemptReplayDepth
                          ? history.exempt.size() - kExemptReplayDepth
                          : 0;
  for (size_t i = from; i < history.exempt.size(); ++i) {
    if (history.exempt[i].message_hash == hash) return &history.exempt[i];
  }
  return nullptr;
}

// Drops the oldest records of one kind (counted or denied) beyond `most`, down to `floor`.
void DropOldest(std::vector<SendRecord>& list, bool counted, int most, int floor) {
  const auto of_kind = [counted](const SendRecord& record) { return record.counted() == counted; };
  int excess = static_cast<int>(std::count_if(list.begin(), list.end(), of_kind));
  if (excess <= most) return;
  excess -= floor;
  for (auto it = list.begin(); excess > 0 && it != list.end();) {
    if (of_kind(*it)) {
      it = list.erase(it);
      --excess;
    } else {
      ++it;
    }
  }
}

void Append(const CheckPlan& plan, std::vector<SendRecord>& list, const SendRecord& record) {
  const bool trim = !list.empty() && list.front().at < plan.trim_before;
  list.push_back(record);
  const auto counted = std::count_if(list.begin(), list.end(),
                                     [](const SendRecord& each) { return each.counted(); });
  const auto denied = static_cast<int64_t>(list.size()) - counted;
  if (!trim && counted <= kMaxCountedRecords && denied <= kMaxDeniedRecords) return;
  std::erase_if(list, [&](const SendRecord& each) { return each.at < plan.keep_after; });
  DropOldest(list, /*counted=*/true, kMaxCountedRecords, kCountedFloor);
  DropOldest(list, /*counted=*/false, kMaxDeniedRecords, kDeniedFloor);
}

// Whether the plan was made with another profile than the contact's stored one (a request
// that gave its time zone and segments is not checked).
bool ProfileChanged(const PreferenceCheck& check, const Preferences* stored) {
  static const Preferences kNothing;
  const Preferences& profile = stored != nullptr ? *stored : kNothing;
  return (check.timezone_fingerprint.has_value() &&
          *check.timezone_fingerprint != TimeZoneFingerprint(profile.timezone)) ||
         (check.segments_fingerprint.has_value() &&
          *check.segments_fingerprint != SegmentsFingerprint(profile.segments));
}

// --- Rolling caps with sends scheduled after the check ---
// A cap of N per rolling W refuses a send only when some window of length W that contains it
// would then hold more than N. Without sends after the check, that window is the one ending at
// the send (the fast path of Used and RoomAt); with sends scheduled later, every window
// containing the send is looked at.

// The instant a rolling cap is checked at: its bounds are that instant -W+1ms and +W.
absl::Time CheckedAt(const CapCheck& cap) { return cap.start + cap.slide - absl::Milliseconds(1); }

// The sends a rolling cap counts from its start on, however far ahead, by time.
std::vector<const SendRecord*> Reachable(const CapCheck& cap, const History& history) {
  CapCheck open = cap;
  open.end = absl::InfiniteFuture();
  std::vector<const SendRecord*> reachable = Counted(open, history);
  std::stable_sort(reachable.begin(), reachable.end(),
                   [](const SendRecord* a, const SendRecord* b) { return a->at < b->at; });
  return reachable;
}

bool Scheduled(const CapCheck& cap, const std::vector<const SendRecord*>& reachable) {
  return !reachable.empty() && reachable.back()->at > CheckedAt(cap);
}

// The weight of the sends in [from, from + length).
int64_t WindowSum(const std::vector<const SendRecord*>& sends, absl::Time from,
                  absl::Duration length) {
  int64_t sum = 0;
  for (const SendRecord* send : sends) {
    if (send->at >= from + length) break;
    if (send->at >= from) sum += send->weight;
  }
  return sum;
}

// The most weight a window of `length` containing `at` holds: the one ending at `at`, or one
// reaching a later send.
int64_t Peak(const std::vector<const SendRecord*>& sends, absl::Time at, absl::Duration length) {
  const absl::Duration ms = absl::Milliseconds(1);
  int64_t peak = WindowSum(sends, at - length + ms, length);
  for (const SendRecord* send : sends) {
    if (send->at > at && send->at < at + length) {
      peak = std::max(peak, WindowSum(sends, send->at - length + ms, length));
    }
  }
  return peak;
}

// The first instant, at or after the check, when a message of `weight` fits every window of
// the cap containing it: the peak only falls when a send leaves reach, `slide` after it.
absl::Time ScheduledRoomAt(const CapCheck& cap, const std::vector<const SendRecord*>& sends,
                           int64_t weight) {
  const absl::Time at = CheckedAt(cap);
  if (Peak(sends, at, cap.slide) + weight <= cap.limit) return absl::InfinitePast();
  if (weight > cap.limit) return absl::InfiniteFuture();
  for (const SendRecord* send : sends) {
    const absl::Time exit = send->at + cap.slide;
    if (exit > at && Peak(sends, exit, cap.slide) + weight <= cap.limit) return exit;
  }
  return absl::InfiniteFuture();
}

// --- Look-ahead: planned sends of higher priority keep their room ---

// When the message of `plan` was announced itself: its own planned send's announcement, or
// never (a message nobody announced comes after every planned send of its priority).
absl::Time OwnAnnouncement(const CheckPlan& plan, const History& history) {
  for (const PlannedSend& planned : history.planned) {
    if (planned.SameSend(plan.send.ids)) return planned.announced;
  }
  return absl::InfiniteFuture();
}

// The planned sends the plan's caps keep room for, as sends at the instant they can go out
// (their planned time, or now when it has passed): those not expired, of another campaign,
// and of a higher priority than the message, or of the same and announced before it.
std::vector<SendRecord> Competitors(const CheckPlan& plan, const History& history) {
  std::vector<SendRecord> competitors;
  if (history.planned.empty()) return competitors;
  const absl::Time own = OwnAnnouncement(plan, history);
  for (const PlannedSend& planned : history.planned) {
    if (planned.at + plan.planned_grace <= plan.now) continue;
    if (planned.id(Field::kCampaign) == plan.send.id(Field::kCampaign)) continue;
    const bool outranks = planned.priority != plan.send.priority
                              ? planned.priority > plan.send.priority
                              : planned.announced < own;
    if (!outranks) continue;
    competitors.push_back(SendRecord{.at = std::max(planned.at, plan.now),
                                     .ids = planned.ids,
                                     .weight = planned.weight,
                                     .priority = planned.priority});
  }
  return competitors;
}

// A decided message consumes its own planned send (same campaign and edition); the contact's
// expired planned sends go with it.
void ConsumePlanned(const CheckPlan& plan, std::vector<PlannedSend>& planned) {
  const bool own = std::any_of(planned.begin(), planned.end(), [&](const PlannedSend& each) {
    return each.SameSend(plan.send.ids);
  });
  if (!own) return;
  std::erase_if(planned, [&](const PlannedSend& each) {
    return each.SameSend(plan.send.ids) || each.at + plan.planned_grace <= plan.now;
  });
}

}  // namespace

bool Counts(const CapCheck& cap, const SendRecord& record) {
  if (!record.counted() || record.at < cap.start || record.at >= cap.end) return false;
  return std::all_of(cap.match.begin(), cap.match.end(), [&](const FieldMatch& match) {
    return std::find(match.ids.begin(), match.ids.end(), record.id(match.field)) !=
           match.ids.end();
  });
}

int64_t Used(const CapCheck& cap, const History& history) {
  if (cap.slide > absl::ZeroDuration()) {
    const std::vector<const SendRecord*> reachable = Reachable(cap, history);
    if (Scheduled(cap, reachable)) return Peak(reachable, CheckedAt(cap), cap.slide);
  }
  int64_t used = 0;
  for (const SendRecord* record : Counted(cap, history)) used += record->weight;
  return used;
}

absl::Time RoomAt(const CapCheck& cap, const History& history, int64_t weight) {
  if (cap.slide > absl::ZeroDuration()) {
    const std::vector<const SendRecord*> reachable = Reachable(cap, history);
    if (Scheduled(cap, reachable)) return ScheduledRoomAt(cap, reachable, weight);
  }
  std::vector<const SendRecord*> counted = Counted(cap, history);
  int64_t used = 0;
  for (const SendRecord* record : counted) used += record->weight;
  if (used + weight <= cap.limit) return absl::InfinitePast();
  if (weight > cap.limit) return absl::InfiniteFuture();
  if (cap.slide == absl::ZeroDuration()) return cap.end;
  std::stable_sort(counted.begin(), counted.end(),
                   [](const SendRecord* a, const SendRecord* b) { return a->at < b->at; });
  for (const SendRecord* record : counted) {
    used -= record->weight;
    if (used + weight <= cap.limit) return record->at + cap.slide;
  }
  return absl::InfiniteFuture();  // unreachable: weight <= limit frees up once all are gone
}

CheckResult EvaluateCheck(const CheckPlan& plan, const History& history,
                          const Preferences* stored, const CapacityCounters* counters) {
  CheckResult result;
  if (const SendRecord* first = FindMessage(plan, history)) {
    result.outcome = first->counted() ? CheckOutcome::kReplayAllowed : CheckOutcome::kReplayDenied;
    result.replay_at = first->at;
    result.replay_code = first->denied_code;
    return result;
  }
  if (ProfileChanged(plan.preferences, stored)) {
    result.outcome = CheckOutcome::kProfileChanged;
    if (stored != nullptr) result.profile = {stored->timezone, stored->segments};
    return result;
  }

  // The rules in order; each holds the message until an instant (InfiniteFuture: never).
  CheckOptOut(plan.preferences, stored, result.verdicts);
  CheckConsent(plan.preferences, stored, result.verdicts);
  CheckPause(plan.preferences, stored, plan.send.at, result.verdicts);
  if (std::optional<CapCheck> own = ContactFrequencyCap(plan, stored)) {
    const absl::Time room = RoomAt(*own, history, plan.send.weight);
    if (room != absl::InfinitePast()) {
      result.verdicts.push_back({.code = ReasonCode::kContactFrequency,
                                 .at = room,
                                 .used = Used(*own, history),
                                 .limit = own->limit});
    }
  }
  // The caps count the planned sends that outrank the message as if they were sent.
  const std::vector<SendRecord> competitors = Competitors(plan, history);
  History with_planned;
  if (!competitors.empty()) {
    with_planned.main = history.main;
    with_planned.main.insert(with_planned.main.end(), competitors.begin(), competitors.end());
    with_planned.exempt = history.exempt;
  }
  const History& counted = competitors.empty() ? history : with_planned;
  for (const CapCheck& cap : plan.caps) {
    CapResult& cap_result = result.caps.emplace_back();
    cap_result.used = Used(cap, history);
    if (!competitors.empty()) cap_result.planned = Used(cap, counted) - cap_result.used;
    cap_result.room_at = RoomAt(cap, counted, plan.send.weight);
  }
  for (const CapacityCheck& check : plan.capacity) {
    CapResult& counter = result.capacity.emplace_back();
    if (counters != nullptr) {
      const auto it = counters->find(check.counter);
      if (it != counters->end()) counter.used = it->second;
    }
    if (counter.used + 1 > check.limit) counter.room_at = check.end;
  }

  // The latest instant wins; the first rule (in order) that cannot be met in time names the
  // denial.
  absl::Time retry = absl::InfinitePast();
  auto hold = [&](absl::Time at, ReasonCode code) {
    retry = std::max(retry, at);
    if (result.deny_code == 0 && (at == absl::InfiniteFuture() || at > plan.deny_after)) {
      result.deny_code = static_cast<uint8_t>(code);
    }
  };
  for (const RuleVerdict& verdict : result.verdicts) hold(verdict.at, verdict.code);
  for (const CapResult& cap : result.caps) {
    if (cap.full()) hold(cap.room_at, ReasonCode::kCapReached);
  }
  for (const CapResult& counter : result.capacity) {
    if (counter.full()) hold(counter.room_at, ReasonCode::kCapacity);
  }
  if (retry == absl::InfinitePast()) {
    result.outcome = CheckOutcome::kAllowed;
    return result;
  }
  result.retry_at = retry;
  result.outcome = result.deny_code == 0 ? CheckOutcome::kDeferred : CheckOutcome::kDenied;
  return result;
}

void CountCapacity(const CheckPlan& plan, const CheckResult& result, CapacityCounters& counters) {
  if (plan.dry_run || result.outcome != CheckOutcome::kAllowed) return;
  for (const CapacityCheck& check : plan.capacity) ++counters[check.counter];
}

History HistoryAfter(const CheckPlan& plan, const CheckResult& result, const History& history) {
  if (plan.dry_run) return history;  // a dry run (or a message held by quiet hours) writes nothing
  History after = history;
  if (result.outcome == CheckOutcome::kAllowed) {
    Append(plan, plan.exempt ? after.exempt : after.main, plan.send);
  } else if (result.outcome == CheckOutcome::kDenied) {
    SendRecord denial = plan.send;
    denial.denied_code = result.deny_code;
    Append(plan, after.main, denial);
  }
  if (result.outcome == CheckOutcome::kAllowed || result.outcome == CheckOutcome::kDenied) {
    ConsumePlanned(plan, after.planned);
  }
  return after;
}


void PlanSends(const std::vector<PlannedChange>& changes, absl::Time now, absl::Duration grace,
               std::vector<PlannedSend>& planned) {
  std::erase_if(planned, [&](const PlannedSend& each) { return each.at + grace <= now; });
  for (const PlannedChange& change : changes) {
    std::erase_if(planned,
                  [&](const PlannedSend& each) { return each.SameSend(change.send.ids); });
    if (!change.withdraw) planned.push_back(change.send);
  }
  while (planned.size() > static_cast<size_t>(kMaxPlannedSends)) {
    planned.erase(std::max_element(
        planned.begin(), planned.end(),
        [](const PlannedSend& a, const PlannedSend& b) { return a.at < b.at; }));
  }
}

}  // namespace sendgate::core
