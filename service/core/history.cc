#include "service/core/history.h"

#include <algorithm>

namespace sendgate::core {
namespace {

bool Counts(const CapCheck& cap, const SendRecord& record) {
  if (!record.counted() || record.at < cap.start || record.at >= cap.end) return false;
  for (const FieldMatch& match : cap.match) {
    if (std::find(match.ids.begin(), match.ids.end(), record.id(match.field)) == match.ids.end())
      return false;
  }
  return true;
}

const SendRecord* FindMessage(std::span<const SendRecord> history, uint64_t message_hash) {
  for (const SendRecord& record : history) {
    if (record.message_hash == message_hash) return &record;
  }
  return nullptr;
}

std::vector<SendRecord> Kept(const CheckPlan& plan, std::span<const SendRecord> history) {
  std::vector<SendRecord> kept;
  for (const SendRecord& record : history) {
    if (record.at >= plan.keep_after) kept.push_back(record);
  }
  return kept;
}

// Drops the oldest records of one kind (counted or denied) beyond `most`.
void DropOldest(std::vector<SendRecord>& history, bool counted, int most) {
  int excess = -most;
  for (const SendRecord& record : history) excess += record.counted() == counted ? 1 : 0;
  auto it = history.begin();
  while (excess > 0 && it != history.end()) {
    if (it->counted() == counted) {
      it = history.erase(it);
      --excess;
    } else {
      ++it;
    }
  }
}

}  // namespace

int64_t Used(const CapCheck& cap, std::span<const SendRecord> history) {
  int64_t used = 0;
  for (const SendRecord& record : history) {
    if (Counts(cap, record)) used += record.weight;
  }
  return used;
}

absl::Time RoomAt(const CapCheck& cap, std::span<const SendRecord> history, int64_t weight) {
  int64_t used = Used(cap, history);
  if (used + weight <= cap.limit) return absl::InfinitePast();
  if (weight > cap.limit) return absl::InfiniteFuture();
  if (cap.slide == absl::ZeroDuration()) return cap.end;
  std::vector<const SendRecord*> counted;
  for (const SendRecord& record : history) {
    if (Counts(cap, record)) counted.push_back(&record);
  }
  std::sort(counted.begin(), counted.end(),
            [](const SendRecord* a, const SendRecord* b) { return a->at < b->at; });
  for (const SendRecord* record : counted) {
    used -= record->weight;
    if (used + weight <= cap.limit) return record->at + cap.slide;
  }
  return absl::InfiniteFuture();  // unreachable: weight <= limit frees up once all are gone
}

CheckResult EvaluateCheck(const CheckPlan& plan, std::span<const SendRecord> history) {
  CheckResult result;
  if (const SendRecord* first = FindMessage(history, plan.send.message_hash)) {
    result.outcome = first->counted() ? CheckOutcome::kReplayAllowed : CheckOutcome::kReplayDenied;
    result.replay_at = first->at;
    result.replay_code = first->denied_code;
    return result;
  }
  if (plan.mode == CheckMode::kReplayOnly) return result;

  const std::vector<SendRecord> kept = Kept(plan, history);
  absl::Time room_at = absl::InfinitePast();  // when every cap has room
  for (const CapCheck& cap : plan.caps) {
    CapResult& cap_result = result.caps.emplace_back();
    cap_result.used = Used(cap, kept);
    cap_result.room_at = RoomAt(cap, kept, plan.send.weight);
    room_at = std::max(room_at, cap_result.room_at);
  }
  if (room_at == absl::InfinitePast()) {
    result.outcome = CheckOutcome::kAllowed;
    return result;
  }
  result.retry_at = room_at;
  result.outcome = room_at <= plan.deny_after ? CheckOutcome::kDeferred : CheckOutcome::kDenied;
  return result;
}

std::vector<SendRecord> HistoryAfter(const CheckPlan& plan, const CheckResult& result,
                                     std::span<const SendRecord> history) {
  // Only a recorded outcome writes; a DEFER or a replay leaves history as it was.
  const bool recorded = plan.mode == CheckMode::kDecide &&
                        (result.outcome == CheckOutcome::kAllowed ||
                         result.outcome == CheckOutcome::kDenied);
  if (!recorded) return {history.begin(), history.end()};
  std::vector<SendRecord> kept = Kept(plan, history);
  if (result.outcome == CheckOutcome::kAllowed) {
    kept.push_back(plan.send);
  } else if (result.outcome == CheckOutcome::kDenied) {
    kept.push_back(plan.send);
    kept.back().denied_code = plan.deny_code;
  }
  DropOldest(kept, /*counted=*/true, kMaxCountedRecords);
  DropOldest(kept, /*counted=*/false, kMaxDeniedRecords);
  return kept;
}

}  // namespace sendgate::core
