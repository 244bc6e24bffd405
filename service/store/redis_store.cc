#include "service/store/redis_store.h"

#include <hiredis/hiredis.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/core/names.h"
#include "service/store/history_codec.h"
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
  int count = 4 + 17;  // EVALSHA sha 1 key, then ARGV[1..17]
  for (const core::CapCheck& cap : plan.caps) {
    count += 5;
    for (const core::FieldMatch& match : cap.match) count += 2 + static_cast<int>(match.ids.size());
  }
  return count;
}

// decide.lua's KEYS and ARGV (see its header).
std::string DecideCommand(const CheckPlan& plan) {
  RespCommand command(DecideArgumentCount(plan));
  command.Add("EVALSHA").Add(DecideScript().sha1).Add(1).Add(HistoryKey(plan.contact_id));
  const core::SendRecord& send = plan.send;
  command.Add(plan.mode == core::CheckMode::kDecide ? "D" : "R")
      .Add(Millis(send.at))
      .Add(static_cast<int64_t>(send.message_hash & 0xffffffff))
      .Add(static_cast<int64_t>(send.message_hash >> 32));
  for (uint32_t id : send.ids) command.Add(int64_t{id});
  command.Add(send.weight)
      .Add(send.priority)
      .Add(plan.deny_code)
      .Add(Millis(plan.deny_after))
      .Add(Millis(plan.keep_after))
      .Add(absl::ToInt64Milliseconds(plan.retention))
      .Add(Millis(plan.now))
      .Add(static_cast<int64_t>(plan.caps.size()));
  for (const core::CapCheck& cap : plan.caps) {
    command.Add(Millis(cap.start))
        .Add(Millis(cap.end))
        .Add(absl::ToInt64Milliseconds(cap.slide))
        .Add(cap.limit)
        .Add(static_cast<int64_t>(cap.match.size()));
    for (const core::FieldMatch& match : cap.match) {
      command.Add(static_cast<int>(match.field) + 1).Add(static_cast<int64_t>(match.ids.size()));
      for (uint32_t id : match.ids) command.Add(int64_t{id});
    }
  }
  return command.wire();
}

// A Redis error reply as a status: UNAVAILABLE when Redis cannot serve now (loading, busy,
// out of memory, read-only replica, cluster redirection), INTERNAL otherwise (a script bug).
absl::Status ErrorStatus(const redisReply* reply) {
  const absl::string_view text(reply->str, reply->len);
  for (absl::string_view transient : {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN",
                                     "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK"}) {
    if (absl::StartsWith(text, transient)) return absl::UnavailableError(text);
  }
  return absl::InternalError(absl::StrCat("Redis: ", text));
}

absl::StatusOr<CheckResult> ParseDecideReply(const redisReply* reply, size_t caps) {
  if (reply->type == REDIS_REPLY_ERROR) return ErrorStatus(reply);
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

}  // namespace

std::string HistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:h");
}

RedisStore::RedisStore(RedisStoreOptions options) {
  for (int i = 0; i < std::max(1, options.connections); ++i) {
    connections_.push_back(std::make_unique<RedisConnection>(options.connection, options.events));
  }
}

RedisConnection& RedisStore::ConnectionFor(absl::string_view contact_id) {
  return *connections_[core::NameId(contact_id) % connections_.size()];
}

void RedisStore::Check(const CheckPlan& plan, absl::Time deadline, CheckCallback done) {
  ConnectionFor(plan.contact_id)
      .SendScript(DecideScript(), DecideCommand(plan), deadline,
                  [caps = plan.caps.size(), done = std::move(done)](
                      absl::StatusOr<const redisReply*> reply) mutable {
                    if (!reply.ok()) {
                      done(reply.status());
                    } else {
                      done(ParseDecideReply(*reply, caps));
                    }
                  });
}

void RedisStore::Cancel(absl::string_view contact_id, absl::string_view message_id,
                        absl::Time deadline, CancelCallback done) {
  const uint64_t hash = core::MessageHash(message_id);
  RespCommand command(6);
  command.Add("EVALSHA").Add(CancelScript().sha1).Add(1).Add(HistoryKey(contact_id));
  command.Add(static_cast<int64_t>(hash & 0xffffffff)).Add(static_cast<int64_t>(hash >> 32));
  ConnectionFor(contact_id)
      .SendScript(CancelScript(), command.wire(), deadline,
                  [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
                    if (!reply.ok()) return done(reply.status());
                    if ((*reply)->type == REDIS_REPLY_ERROR) return done(ErrorStatus(*reply));
                    done((*reply)->type == REDIS_REPLY_INTEGER && (*reply)->integer == 1);
                  });
}

void RedisStore::ReadHistory(absl::string_view contact_id, absl::Time deadline,
                             HistoryCallback done) {
  RespCommand command(2);
  command.Add("GET").Add(HistoryKey(contact_id));
  ConnectionFor(contact_id)
      .Send(command.wire(), deadline,
            [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
              if (!reply.ok()) return done(reply.status());
              const redisReply* value = *reply;
              if (value->type == REDIS_REPLY_ERROR) return done(ErrorStatus(value));
              if (value->type == REDIS_REPLY_NIL) return done(std::vector<core::SendRecord>{});
              done(DecodeHistory(absl::string_view(value->str, value->len)));
            });
}

bool RedisStore::healthy() const {
  for (const auto& connection : connections_) {
    if (!connection->connected()) return false;
  }
  return true;
}

}  // namespace sendgate::store
