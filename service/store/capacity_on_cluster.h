// Capacity counters on a Redis Cluster (docs/redis.md, "Capacity counters on a cluster"). A
// counter is in a slot of its own, so the contact's decide cannot touch it: a message takes
// its unit on each of its plan's counters first, each by a call to the counter's primary
// (capacity_take.lua, below the limit only), the contact's decide then gets the counters'
// values (decide_call.h, CountersBefore), and the units go back (capacity_give_back.lua) when
// the decision is known not to be a new allowed send. The total never passes the limit; a
// unit whose give-back is lost, or whose decision's reply is lost, stays taken until the
// interval ends (under-use, never over-use). 1 call per decision stays the rule for a message
// no capacity rule applies to.
#pragma once

#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/core/check_plan.h"
#include "service/store/cluster_router.h"
#include "service/store/decide_call.h"

namespace sendgate::store {

// What TakeCapacity got: the counters' values before the message, and which units it took.
struct TakenCapacity {
  CountersBefore before;
  std::vector<bool> taken;  // one per CheckPlan::capacity
};

using TakeCallback = absl::AnyInvocable<void(absl::StatusOr<TakenCapacity>)>;

// Takes the message's unit on each capacity counter of `plan` (reads it only, for a dry run)
// and reads those of its shadow plan, all at once, each on its own primary; `done` (on a
// connection's loop thread) once every call has answered. When one fails, the units taken are
// given back and `done` gets that failure.
void TakeCapacity(ClusterRouter& router, const core::CheckPlan& plan, absl::Time deadline,
                  TakeCallback done);

// Gives back the units `taken` holds (a message not allowed after all); nothing is waited for.
void GiveBackCapacity(ClusterRouter& router, const core::CheckPlan& plan,
                      const TakenCapacity& taken);

// Whether `result`, the decide of a message whose units were taken, says they must go back:
// the message was not newly allowed (held back, denied, a replay of a message decided before,
// or a changed profile to decide again). A failure keeps them: the decide may have run.
bool MustGiveBack(const absl::StatusOr<core::CheckResult>& result);

}  // namespace sendgate::store
