#include "service/store/redis_store.h"

#include <hiredis/hiredis.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "service/core/names.h"
#include "service/store/decide_call.h"
#include "service/store/history_codec.h"
#include "service/store/resp.h"
#include "service/store/script.h"

namespace sendgate::store {

using core::CheckPlan;

std::string MainHistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:h");
}

std::string ExemptHistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:e");
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
  RespCommand command(7);
  command.Add("EVALSHA").Add(CancelScript().sha1).Add(2);
  command.Add(MainHistoryKey(contact_id)).Add(ExemptHistoryKey(contact_id));
  command.Add(static_cast<int64_t>(hash & 0xffffffff)).Add(static_cast<int64_t>(hash >> 32));
  ConnectionFor(contact_id)
      .SendScript(CancelScript(), command.wire(), deadline,
                  [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
                    if (!reply.ok()) return done(reply.status());
                    if ((*reply)->type == REDIS_REPLY_ERROR) return done(ReplyError(*reply));
                    done((*reply)->type == REDIS_REPLY_INTEGER && (*reply)->integer == 1);
                  });
}

void RedisStore::ReadHistory(absl::string_view contact_id, absl::Time deadline,
                             HistoryCallback done) {
  RespCommand command(3);
  command.Add("MGET").Add(MainHistoryKey(contact_id)).Add(ExemptHistoryKey(contact_id));
  ConnectionFor(contact_id)
      .Send(command.wire(), deadline,
            [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
              if (!reply.ok()) return done(reply.status());
              if ((*reply)->type == REDIS_REPLY_ERROR) return done(ReplyError(*reply));
              if ((*reply)->type != REDIS_REPLY_ARRAY || (*reply)->elements != 2) {
                return done(absl::InternalError("MGET returned something other than 2 values"));
              }
              core::History history;
              for (auto [element, list] : {std::pair{(*reply)->element[0], &history.main},
                                           std::pair{(*reply)->element[1], &history.exempt}}) {
                if (element->type != REDIS_REPLY_STRING) continue;  // no such key
                absl::StatusOr<std::vector<core::SendRecord>> records =
                    DecodeHistory(absl::string_view(element->str, element->len));
                if (!records.ok()) return done(records.status());
                *list = std::move(*records);
              }
              done(std::move(history));
            });
}

bool RedisStore::healthy() const {
  for (const auto& connection : connections_) {
    if (!connection->connected()) return false;
  }
  return true;
}

}  // namespace sendgate::store
