// What happens to a contact's send history in one check: the C++ statement of what
// service/store/decide.lua does atomically in Redis. GetPressure counts with it, unit tests use
// it as the store, and an integration test holds the script to it on random histories.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "service/core/check_plan.h"
#include "service/core/preferences.h"
#include "service/core/send_record.h"

namespace sendgate::core {

// A contact's history, in two lists kept apart so that a busy contact stays cheap to decide:
// `main` holds the sends of categories that caps limit, and denials (kept for replays); caps
// keep it small. `exempt` holds the sends of categories exempt from caps (transactional): often
// many, scanned only by caps that name such a category. Both are in append order.
// `planned` holds the sends campaign tools announced for the contact (Arbiter.Plan), in the
// order they were stored.
struct History {
  std::vector<SendRecord> main;
  std::vector<SendRecord> exempt;
  std::vector<PlannedSend> planned;
  friend bool operator==(const History&, const History&) = default;
};

// The most planned sends a contact keeps; beyond, those planned furthest ahead go.
inline constexpr int kMaxPlannedSends = 32;

// Bounds of one list, whatever the policy. Beyond one, the oldest of that kind go in a chunk,
// down to the floor, so that rewrites stay rare.
inline constexpr int kMaxCountedRecords = 1000;
inline constexpr int kCountedFloor = 900;
inline constexpr int kMaxDeniedRecords = 16;
inline constexpr int kDeniedFloor = 12;
// A replay of an exempt message is recognised among the contact's latest exempt sends, so that
// deciding for a busy contact never reads its whole exempt list; an older retry is decided
// afresh (an exempt category is not capped: still ALLOW, without `replayed`).
inline constexpr int kExemptReplayDepth = 64;

// Whether `cap` counts `record` (a counted send in its window that it matches), the list the
// record is in aside.
bool Counts(const CapCheck& cap, const SendRecord& record);

// Weight units of counted records in `history` that `cap` counts.
int64_t Used(const CapCheck& cap, const History& history);

// When `cap` has room for `weight` more units (see CapResult::room_at).
absl::Time RoomAt(const CapCheck& cap, const History& history, int64_t weight);

// The capacity counters a store keeps, by CapacityCheck::counter (absent: 0).
using CapacityCounters = std::map<std::string, int64_t>;

// The answer to `plan` for a contact whose history is `history` and whose stored preferences
// are `stored` (its suppression entry when it was forgotten; nullptr when nothing is stored),
// with the capacity counters at `counters` (nullptr: all 0).
// A replay is looked up in `main`, and for an exempt message in the last kExemptReplayDepth
// records of `exempt`. Then the rules, in order: opt-outs, consent, pause, the contact's own
// frequency, caps (preference_rules.h; each counting, as if sent, the planned sends that
// outrank the message: higher priority, or the same and announced first), capacity (a full counter holds the message to the end
// of its interval); the latest instant any of them holds the message to is the retry, and the
// first that cannot be met by deny_after names the denial.
CheckResult EvaluateCheck(const CheckPlan& plan, const History& history,
                          const Preferences* stored = nullptr,
                          const CapacityCounters* counters = nullptr);

// A change of a contact's planned sends (Arbiter.Plan): a planned send in place of any of the
// same campaign and edition, or its withdrawal.
struct PlannedChange {
  PlannedSend send;
  bool withdraw = false;
};

// `planned` after `changes`, at `now`: expired sends (past their time by `grace`) go first;
// then each change in order; beyond kMaxPlannedSends, the one planned furthest ahead goes (of
// equal ones, the first stored), until they fit.
void PlanSends(const std::vector<PlannedChange>& changes, absl::Time now, absl::Duration grace,
               std::vector<PlannedSend>& planned);

// An allowed message counted on its capacity counters (not for a dry run, nor another outcome).
void CountCapacity(const CheckPlan& plan, const CheckResult& result, CapacityCounters& counters);

// The history to store after `result`. Only a recorded outcome writes, and only to the list it
// records in: an allowed send of an exempt category to `exempt`, any other allowed send and
// every denial to `main`. That list gets the record appended; when its first record is older
// than plan.trim_before or a bound is passed, it is also trimmed: records older than
// plan.keep_after go, and the oldest beyond a bound down to its floor. A recorded outcome also
// consumes the message's own planned send (same campaign and edition), if it has one, and the
// contact's expired planned sends go with it.
History HistoryAfter(const CheckPlan& plan, const CheckResult& result, const History& history);

}  // namespace sendgate::core
