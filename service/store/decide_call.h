// The decide.lua call on the wire: the script call for a check plan, and its answer as a
// CheckResult, both laid out by script_contract.h. Shared by RedisStore and the benchmark
// (which replays the same call with redis-benchmark).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/core/check_plan.h"
#include "service/store/script.h"

struct redisReply;

namespace sendgate::store {

// The Redis keys of a contact's History::main and History::exempt. They share the contact's
// hash tag, so that a decision touches one Redis Cluster slot.
std::string MainHistoryKey(absl::string_view contact_id);
std::string ExemptHistoryKey(absl::string_view contact_id);
// Both, in the order the scripts take them (contract::Key).
std::vector<std::string> HistoryKeys(absl::string_view contact_id);

// decide.lua's one argument for `plan`: the plan as a JSON array of numbers.
std::string PlanArgument(const core::CheckPlan& plan);

// EVALSHA of decide.lua for `plan`, in RESP form.
std::string DecideCommand(const core::CheckPlan& plan);

// decide.lua's answer to a plan of `caps` caps. An error reply is a store error of its kind (ReplyError); a
// reply that breaks the contract in any way (a missing or non-integer element, an unknown
// outcome, a wrong count) is kMalformedReply: it never reads as "room now".
absl::StatusOr<core::CheckResult> ParseDecideReply(const redisReply* reply, size_t caps);

// A Redis error reply as a store error: kUnavailable when Redis cannot serve now (loading,
// busy, read-only replica, master down), kOutOfMemory, kRedirected (MOVED, ASK, CLUSTERDOWN,
// TRYAGAIN: cluster mode), kRedisError for the rest (WRONGTYPE, a script error).
absl::Status ReplyError(const redisReply* reply);

}  // namespace sendgate::store
