// What happens to a contact's send history in one check: the C++ statement of what
// service/store/decide.lua does atomically in Redis. GetPressure counts with it, unit tests use
// it as the store, and an integration test holds the script to it on random histories.
#pragma once

#include <span>
#include <vector>

#include "service/core/check_plan.h"
#include "service/core/send_record.h"

namespace sendgate::core {

// History bounds per contact, whatever the policy: a per-contact history is for tens of sends,
// not thousands. The oldest records go first.
inline constexpr int kMaxCountedRecords = 1000;
inline constexpr int kMaxDeniedRecords = 16;

// Weight units of counted records in `history` that `cap` counts.
int64_t Used(const CapCheck& cap, std::span<const SendRecord> history);

// When `cap` has room for `weight` more units (see CapResult::room_at).
absl::Time RoomAt(const CapCheck& cap, std::span<const SendRecord> history, int64_t weight);

// The answer to `plan` for a contact whose history is `history`.
CheckResult EvaluateCheck(const CheckPlan& plan, std::span<const SendRecord> history);

// The history to store after `result`. When the send (or its denial) is recorded: trimmed,
// with it appended, within the size bounds. Otherwise (DEFER, replay, lookup) unchanged.
std::vector<SendRecord> HistoryAfter(const CheckPlan& plan, const CheckResult& result,
                                     std::span<const SendRecord> history);

}  // namespace sendgate::core
