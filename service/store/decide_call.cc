#include "service/store/decide_call.h"

#include <hiredis/hiredis.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/store/redis_store.h"
#include "service/store/resp.h"
#include "service/store/script.h"

namespace sendgate::store {
namespace {

using core::CheckOutcome;
using core::CheckPlan;
using core::CheckResult;

// Lua numbers are doubles: "never" is sent as 2^53 rather than int64's maximum.
constexpr int64_t kNeverMillis = int64_t{1} << 53;

int64_t Millis(absl::Time time) {
  if (time == absl::InfiniteFuture()) return kNeverMillis;
  if (time == absl::InfinitePast()) return -kNeverMillis;
  return absl::ToUnixMillis(time);
}

absl::Time RoomFromMillis(int64_t millis) {
  if (millis == 0) return absl::InfinitePast();
  if (millis < 0) return absl::InfiniteFuture();
  return absl::FromUnixMillis(millis);
}

int DecideArgumentCount(const CheckPlan& plan) {
  int count = 5 + 19;  // EVALSHA sha 2 keys, then ARGV[1..19]
  for (const core::CapCheck& cap : plan.caps) {
    count += 6;
    for (const core::FieldMatch& match : cap.match) count += 2 + static_cast<int>(match.ids.size());
  }
  return count;
}

}  // namespace

// decide.lua's KEYS and ARGV (see its header).
std::string DecideCommand(const CheckPlan& plan) {
  RespCommand command(DecideArgumentCount(plan));
  command.Add("EVALSHA").Add(DecideScript().sha1).Add(2);
  command.Add(MainHistoryKey(plan.contact_id)).Add(ExemptHistoryKey(plan.contact_id));
  const core::SendRecord& send = plan.send;
  command.Add(plan.mode == core::CheckMode::kDecide ? "D" : "R")
      .Add(Millis(send.at))
      .Add(static_cast<int64_t>(send.message_hash & 0xffffffff))
      .Add(static_cast<int64_t>(send.message_hash >> 32));
  for (uint32_t id : send.ids) command.Add(int64_t{id});
  command.Add(send.weight)
      .Add(send.priority)
      .Add(plan.exempt ? 1 : 0)
      .Add(plan.deny_code)
      .Add(Millis(plan.deny_after))
      .Add(Millis(plan.keep_after))
      .Add(Millis(plan.trim_before))
      .Add(absl::ToInt64Milliseconds(plan.retention))
      .Add(Millis(plan.now))
      .Add(static_cast<int64_t>(plan.caps.size()));
  for (const core::CapCheck& cap : plan.caps) {
    command.Add(Millis(cap.start))
        .Add(Millis(cap.end))
        .Add(absl::ToInt64Milliseconds(cap.slide))
        .Add(cap.limit)
        .Add(cap.counts_exempt ? 1 : 0)
        .Add(static_cast<int64_t>(cap.match.size()));
    for (const core::FieldMatch& match : cap.match) {
      command.Add(static_cast<int>(match.field) + 1).Add(static_cast<int64_t>(match.ids.size()));
      for (uint32_t id : match.ids) command.Add(int64_t{id});
    }
  }
  return command.wire();
}

absl::Status ReplyError(const redisReply* reply) {
  const absl::string_view text(reply->str, reply->len);
  for (absl::string_view transient : {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN",
                                     "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK"}) {
    if (absl::StartsWith(text, transient)) return absl::UnavailableError(text);
  }
  return absl::InternalError(absl::StrCat("Redis: ", text));
}

absl::StatusOr<CheckResult> ParseDecideReply(const redisReply* reply, size_t caps) {
  if (reply->type == REDIS_REPLY_ERROR) return ReplyError(reply);
  auto integer = [&](size_t i) -> int64_t {
    return i < reply->elements && reply->element[i]->type == REDIS_REPLY_INTEGER
               ? reply->element[i]->integer
               : 0;
  };
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    return absl::InternalError("decide.lua returned something other than an array");
  }
  CheckResult result;
  switch (integer(0)) {
    case 1: result.outcome = CheckOutcome::kAllowed; break;
    case 2: result.outcome = CheckOutcome::kDeferred; break;
    case 3: result.outcome = CheckOutcome::kDenied; break;
    case 4:
      result.outcome = CheckOutcome::kReplayAllowed;
      result.replay_at = absl::FromUnixMillis(integer(1));
      return result;
    case 5:
      result.outcome = CheckOutcome::kReplayDenied;
      result.replay_at = absl::FromUnixMillis(integer(1));
      result.replay_code = static_cast<uint8_t>(integer(2));
      return result;
    case 6: result.outcome = CheckOutcome::kUnknown; return result;
    default: return absl::InternalError("decide.lua returned an unknown outcome");
  }
  if (reply->elements != 2 + 2 * caps) {
    return absl::InternalError("decide.lua returned the wrong number of cap results");
  }
  if (result.outcome != CheckOutcome::kAllowed) result.retry_at = RoomFromMillis(integer(1));
  for (size_t i = 0; i < caps; ++i) {
    result.caps.push_back({.used = integer(2 + 2 * i), .room_at = RoomFromMillis(integer(3 + 2 * i))});
  }
  return result;
}

}  // namespace sendgate::store
