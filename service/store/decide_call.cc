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

}  // namespace

// decide.lua's KEYS and ARGV (see its header): the plan is one JSON array of numbers.
std::string DecideCommand(const CheckPlan& plan) {
  std::string json = "[";
  auto add = [&json](int64_t number) { absl::StrAppend(&json, json.size() > 1 ? "," : "", number); };
  const core::SendRecord& send = plan.send;
  add(plan.mode == core::CheckMode::kDecide ? 1 : 0);
  add(Millis(send.at));
  add(static_cast<int64_t>(send.message_hash & 0xffffffff));
  add(static_cast<int64_t>(send.message_hash >> 32));
  for (uint32_t id : send.ids) add(id);
  add(send.weight);
  add(send.priority);
  add(plan.exempt ? 1 : 0);
  add(plan.deny_code);
  add(Millis(plan.deny_after));
  add(Millis(plan.keep_after));
  add(Millis(plan.trim_before));
  add(absl::ToInt64Milliseconds(plan.retention));
  add(Millis(plan.now));
  add(static_cast<int64_t>(plan.caps.size()));
  for (const core::CapCheck& cap : plan.caps) {
    add(Millis(cap.start));
    add(Millis(cap.end));
    add(absl::ToInt64Milliseconds(cap.slide));
    add(cap.limit);
    add(cap.counts_exempt ? 1 : 0);
    add(static_cast<int64_t>(cap.match.size()));
    for (const core::FieldMatch& match : cap.match) {
      add(static_cast<int>(match.field) + 1);
      add(static_cast<int64_t>(match.ids.size()));
      for (uint32_t id : match.ids) add(id);
    }
  }
  json += "]";
  RespCommand command(6);
  command.Add("EVALSHA").Add(DecideScript().sha1).Add(2);
  command.Add(MainHistoryKey(plan.contact_id)).Add(ExemptHistoryKey(plan.contact_id));
  command.Add(json);
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
