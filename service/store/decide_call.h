// The decide.lua call on the wire: the script call for a check plan, and its answer as a
// CheckResult, both laid out by script_contract.h. Shared by RedisStore and the benchmark
// (which replays the same calls, loadtest/redis_work.sh).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/core/check_plan.h"
#include "service/store/lua_library.h"
#include "service/store/script_contract.h"

struct redisReply;

namespace sendgate::store {

// The Redis keys of a contact: History::main and History::exempt, its stored preferences and
// its consent trail. They share the contact's hash tag, so that a call touches one Redis
// Cluster slot.
std::string MainHistoryKey(absl::string_view contact_id);
std::string ExemptHistoryKey(absl::string_view contact_id);
// Where a version before editions kept the two histories (contract::kV1RecordBytes records):
// the scripts move them to the keys above when they meet them.
std::string V1MainHistoryKey(absl::string_view contact_id);
std::string V1ExemptHistoryKey(absl::string_view contact_id);
std::string PreferencesKey(absl::string_view contact_id);
// The contact's planned sends (Arbiter.Plan).
std::string PlannedKey(absl::string_view contact_id);
std::string ConsentTrailKey(absl::string_view contact_id);
// The suppression list for the contact's slot: a hash of keyed contact hashes to suppression
// entries, named by a tag of that slot (slots.h) rather than by the contact id.
std::string SuppressionKey(absl::string_view contact_id);
// The keys decide.lua takes, in order (contract::Key).
std::vector<std::string> ContactKeys(absl::string_view contact_id);

// A capacity counter's key (core::CapacityCheck::counter "<rule>:<shard>:<start>"):
// sg:{capacity:<rule>:<shard>}:<start>, one hash tag per shard, so that the shards of a rule
// spread over a cluster's slots.
std::string CapacityKey(absl::string_view counter);

// Where in decide.lua's KEYS (from 1) the plan's capacity counters start (DecideCommand).
inline constexpr int kFirstCounterKey = static_cast<int>(contract::Key::kCount) + 1;

// On a Redis Cluster, the values of a plan's capacity counters before the message, taken or
// read by calls of their own (capacity_on_cluster.h): decide.lua gets them instead of the
// counters' keys, which are in other slots.
struct CountersBefore {
  std::vector<int64_t> plan;    // one per CheckPlan::capacity
  std::vector<int64_t> shadow;  // one per the shadow plan's
};

// decide.lua's argument for `plan`: the plan's numbers, each as contract::kPlanNumberFormat.
// Its capacity counters' keys are in KEYS from position `first_counter_key` (from 1) on; or,
// with `before`, each counter's value is given instead.
std::string PlanArgument(const core::CheckPlan& plan, int first_counter_key,
                         const std::vector<int64_t>* before = nullptr);

// decide.lua's argument for the scopes of `plan`'s caps (contract::ScopeSlot, then the
// matches), packed as the plan: what a cap holds that the send's time does not change.
std::string CapScopesArgument(const core::CheckPlan& plan);

// FCALL of decide.lua's function for `plan`, in RESP form: KEYS the contact's (ContactKeys),
// then those of the plan's capacity counters (CapacityKey), then its shadow plan's; ARGV in
// contract::DecideArg order. With `before`, the capacity counters' values instead of their keys. `function` names another function of the library
// to call with the same KEYS and ARGV (the benchmark's kDecideFloorFunction); empty: the
// plan's own (decide, or decide_dry_run for a dry run).
std::string DecideCommand(const core::CheckPlan& plan, const CountersBefore* before = nullptr,
                          absl::string_view function = {});

// How many caps and capacity counters a plan has: the shape of its reply.
struct ReplyShape {
  ReplyShape(size_t caps, size_t capacity = 0) : caps(caps), capacity(capacity) {}
  explicit ReplyShape(const core::CheckPlan& plan)
      : caps(plan.caps.size()), capacity(plan.capacity.size()) {}
  size_t caps;
  size_t capacity;
};

// decide.lua's answer to a plan of that shape. An error reply is a store error of its kind
// (ReplyError); a reply that breaks the contract in any way (a missing or non-integer element,
// an unknown outcome, a wrong count) is kMalformedReply: it never reads as "room now".
// With `shadow` (the plan had a shadow plan of that shape), a decided reply carries the
// shadow's answer too (CheckResult::shadow).
absl::StatusOr<core::CheckResult> ParseDecideReply(
    const redisReply* reply, ReplyShape shape, std::optional<ReplyShape> shadow = std::nullopt);

// A Redis error reply as a store error: kUnavailable when Redis cannot serve now (loading,
// busy, read-only replica, master down), kOutOfMemory, kRedirected (MOVED, ASK, CLUSTERDOWN,
// TRYAGAIN: cluster mode), kRedisError for the rest (WRONGTYPE, a script error).
absl::Status ReplyError(const redisReply* reply);

}  // namespace sendgate::store
