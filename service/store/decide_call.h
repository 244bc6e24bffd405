// The decide.lua call on the wire: the EVALSHA command for a check plan, and its answer as a
// CheckResult. Shared by RedisStore and the benchmark (which replays the same command with
// redis-benchmark).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "service/core/check_plan.h"

struct redisReply;

namespace sendgate::store {

// EVALSHA of decide.lua for `plan`, in RESP form (see decide.lua for the arguments).
std::string DecideCommand(const core::CheckPlan& plan);

// decide.lua's answer for a plan of `caps` caps.
absl::StatusOr<core::CheckResult> ParseDecideReply(const redisReply* reply, size_t caps);

// A Redis error reply as a status: UNAVAILABLE when Redis cannot serve now (loading, busy,
// out of memory, read-only replica, cluster redirection), INTERNAL otherwise (a script bug).
absl::Status ReplyError(const redisReply* reply);

}  // namespace sendgate::store
