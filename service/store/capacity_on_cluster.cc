#include "service/store/capacity_on_cluster.h"

#include <hiredis/hiredis.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/metrics/log.h"
#include "service/store/lua_library.h"
#include "service/store/script_contract.h"
#include "service/store/slots.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

// A give-back is sent after the decision, whose deadline may be close or past.
constexpr absl::Duration kGiveBackWithin = absl::Seconds(1);

// One counter's call: a take (capacity_take.lua) or a read (GET).
struct CounterCall {
  std::string key;
  bool take = false;
  std::string wire;
};

struct Answer {
  absl::Status status;
  bool taken = false;
  int64_t value = 0;
};

// The counter calls of one message: one per counter of its plan (in order), then a read per
// counter of its shadow plan that the plan does not have (a counter both have is read once:
// its value before the message serves both).
struct CounterCalls {
  std::vector<CounterCall> calls;
  std::vector<size_t> of_shadow;  // per shadow counter, the call that tells its value
};

// The calls of one decision in flight; each answer is written by one reply, and the last
// reply finishes.
struct Gathering {
  Gathering(ClusterRouter& router, size_t plan_counters, CounterCalls calls, TakeCallback done)
      : router(router),
        plan_counters(plan_counters),
        calls(std::move(calls)),
        answers(this->calls.calls.size()),
        waiting(this->calls.calls.size()),
        done(std::move(done)) {}
  ClusterRouter& router;
  const size_t plan_counters;
  const CounterCalls calls;
  std::vector<Answer> answers;
  std::atomic<size_t> waiting;
  TakeCallback done;
};

absl::Status Malformed(absl::string_view what) {
  return StoreError(StoreErrorKind::kMalformedReply, what);
}

// capacity_take.lua's reply: {taken (0 or 1), the value before}.
Answer TakeAnswer(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) return {.status = ReplyError(reply)};
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER ||
      reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0 ||
      reply->element[0]->integer > 1 || reply->element[1]->integer < 0) {
    return {.status = Malformed("capacity_take.lua answered something other than {0|1, value}")};
  }
  return {.taken = reply->element[0]->integer == 1, .value = reply->element[1]->integer};
}

// GET's reply on a counter: absent is 0.
Answer ReadAnswer(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) return {.status = ReplyError(reply)};
  if (reply->type == REDIS_REPLY_NIL) return {};
  int64_t value = 0;
  if (reply->type != REDIS_REPLY_STRING ||
      !absl::SimpleAtoi(absl::string_view(reply->str, reply->len), &value) || value < 0) {
    return {.status = Malformed("a capacity counter holds something other than a count")};
  }
  return {.value = value};
}

CounterCall TakeCall(const core::CapacityCheck& check, const std::string& now) {
  CounterCall call{.key = CapacityKey(check.counter), .take = true};
  std::string args[static_cast<int>(contract::CapacityTakeArg::kCount)];
  args[static_cast<int>(contract::CapacityTakeArg::kLimit)] = absl::StrCat(check.limit);
  args[static_cast<int>(contract::CapacityTakeArg::kEnd)] =
      absl::StrCat(absl::ToUnixMillis(check.end));
  args[static_cast<int>(contract::CapacityTakeArg::kNow)] = now;
  call.wire = FormatFcall(kCapacityTakeFunction, {call.key}, {args[0], args[1], args[2]});
  return call;
}

CounterCall ReadCall(std::string key) {
  CounterCall call{.key = std::move(key)};
  call.wire = FormatCommand({"GET", call.key});
  return call;
}

CounterCalls CallsFor(const core::CheckPlan& plan) {
  CounterCalls out;
  const std::string now = absl::StrCat(absl::ToUnixMillis(plan.now));
  for (const core::CapacityCheck& check : plan.capacity) {
    out.calls.push_back(plan.dry_run ? ReadCall(CapacityKey(check.counter)) : TakeCall(check, now));
  }
  if (plan.shadow == nullptr) return out;
  for (const core::CapacityCheck& check : plan.shadow->capacity) {
    const std::string key = CapacityKey(check.counter);
    size_t at = 0;
    while (at < out.calls.size() && out.calls[at].key != key) ++at;
    if (at == out.calls.size()) out.calls.push_back(ReadCall(key));
    out.of_shadow.push_back(at);
  }
  return out;
}

void GiveBack(ClusterRouter& router, const std::string& key) {
  const int slot = SlotOf(key);
  router.Send(slot, static_cast<uint64_t>(slot), FormatFcall(kCapacityGiveBackFunction, {key}, {}),
              /*function_call=*/true, absl::Now() + kGiveBackWithin,
              [](absl::StatusOr<const redisReply*> reply) {
                static metrics::EveryFewSeconds throttle(5);
                if ((!reply.ok() || (*reply)->type != REDIS_REPLY_INTEGER) && throttle.Due()) {
                  metrics::Log(metrics::Severity::kWarning, "store",
                               "a capacity unit was not given back (the counter under-uses its "
                               "limit by one until its interval ends)");
                }
              });
}

void Finish(Gathering& gathering) {
  TakenCapacity taken;
  absl::Status failure;
  for (const Answer& answer : gathering.answers) {
    if (!answer.status.ok() && failure.ok()) failure = answer.status;
  }
  for (size_t i = 0; i < gathering.plan_counters; ++i) {
    taken.before.plan.push_back(gathering.answers[i].value);
    taken.taken.push_back(gathering.answers[i].taken);
  }
  for (size_t call : gathering.calls.of_shadow) {
    taken.before.shadow.push_back(gathering.answers[call].value);
  }
  if (failure.ok()) return gathering.done(std::move(taken));
  for (size_t i = 0; i < gathering.plan_counters; ++i) {
    if (taken.taken[i]) GiveBack(gathering.router, gathering.calls.calls[i].key);
  }
  gathering.done(failure);
}

}  // namespace

void TakeCapacity(ClusterRouter& router, const core::CheckPlan& plan, absl::Time deadline,
                  TakeCallback done) {
  auto gathering =
      std::make_shared<Gathering>(router, plan.capacity.size(), CallsFor(plan), std::move(done));
  const std::vector<CounterCall>& calls = gathering->calls.calls;
  if (calls.empty()) return Finish(*gathering);
  for (size_t i = 0; i < calls.size(); ++i) {
    const int slot = SlotOf(calls[i].key);
    router.Send(slot, static_cast<uint64_t>(slot), calls[i].wire, calls[i].take, deadline,
                [gathering, i](absl::StatusOr<const redisReply*> reply) {
                  const CounterCall& call = gathering->calls.calls[i];
                  Answer& answer = gathering->answers[i];
                  if (!reply.ok()) {
                    answer.status = reply.status();
                  } else {
                    answer = call.take ? TakeAnswer(*reply) : ReadAnswer(*reply);
                  }
                  if (gathering->waiting.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                    Finish(*gathering);
                  }
                });
  }
}

void GiveBackCapacity(ClusterRouter& router, const core::CheckPlan& plan,
                      const TakenCapacity& taken) {
  for (size_t i = 0; i < plan.capacity.size() && i < taken.taken.size(); ++i) {
    if (taken.taken[i]) GiveBack(router, CapacityKey(plan.capacity[i].counter));
  }
}

bool MustGiveBack(const absl::StatusOr<core::CheckResult>& result) {
  return result.ok() && result->outcome != core::CheckOutcome::kAllowed;
}

}  // namespace sendgate::store
