#include "service/store/redis_store.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/core/names.h"
#include "service/metrics/log.h"
#include "service/store/decide_call.h"
#include "service/store/history_codec.h"
#include "service/store/preferences_codec.h"
#include "service/store/script_contract.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

// A failure that says something is wrong beyond an outage (bad data, a bug, a full Redis,
// cluster mode) is logged, once per few seconds per kind; outages are logged by the
// connections as they go down and up.
absl::Status Logged(absl::Status status) {
  const StoreErrorKind kind = KindOf(status);
  if (Retryable(kind)) return status;
  static metrics::EveryFewSeconds throttles[kStoreErrorKinds] = {
      metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5),
      metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5),
      metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5)};
  if (throttles[static_cast<int>(kind)].Due()) {
    metrics::Log(metrics::Severity::kError, "store",
                 absl::StrCat(KindCause(kind), ": ", status.message()));
  }
  return status;
}

}  // namespace

namespace {

// A blocking connection for the start-up checks, or why there is none.
absl::StatusOr<redisContext*> ConnectNow(const ConnectionOptions& options) {
  const timeval timeout = absl::ToTimeval(options.connect_timeout);
  redisContext* context = redisConnectWithTimeout(options.host.c_str(), options.port, timeout);
  if (context == nullptr || context->err != 0) {
    const std::string error = context != nullptr ? context->errstr : "out of memory";
    if (context != nullptr) redisFree(context);
    return absl::UnavailableError(absl::StrCat("cannot reach Redis at ", options.host, ":",
                                               options.port, ": ", error));
  }
  redisSetTimeout(context, timeout);
  if (options.password.empty()) return context;
  auto* reply = static_cast<redisReply*>(
      options.user.empty()
          ? redisCommand(context, "AUTH %b", options.password.data(), options.password.size())
          : redisCommand(context, "AUTH %b %b", options.user.data(), options.user.size(),
                         options.password.data(), options.password.size()));
  const bool refused = reply == nullptr || reply->type == REDIS_REPLY_ERROR;
  const std::string error = reply == nullptr ? context->errstr
                            : refused        ? std::string(reply->str, reply->len)
                                             : "";
  if (reply != nullptr) freeReplyObject(reply);
  if (!refused) return context;
  redisFree(context);
  return absl::FailedPreconditionError(absl::StrCat(
      "Redis at ", options.host, ":", options.port, " refused sendgate's credentials (user '",
      options.user.empty() ? "default" : options.user, "'): ", error));
}

constexpr char kSuppressionKeyId[] = "sg:suppression-key-id";

}  // namespace

absl::Status CheckSuppressionKey(const ConnectionOptions& options, absl::string_view fingerprint) {
  absl::StatusOr<redisContext*> connected = ConnectNow(options);
  if (!connected.ok()) return connected.status();
  redisContext* context = *connected;
  const std::string id(fingerprint);
  auto* reply = static_cast<redisReply*>(
      id.empty() ? redisCommand(context, "GET %s", kSuppressionKeyId)
                 : redisCommand(context, "SET %s %b NX GET", kSuppressionKeyId, id.data(),
                                id.size()));
  absl::Status status = absl::UnavailableError("Redis did not answer the suppression key check");
  if (reply != nullptr && reply->type == REDIS_REPLY_NIL) status = absl::OkStatus();
  if (reply != nullptr && reply->type == REDIS_REPLY_STRING) {
    const absl::string_view stored(reply->str, reply->len);
    status = stored == id ? absl::OkStatus()
                          : absl::FailedPreconditionError(absl::StrCat(
                                "the suppression list in Redis was written with ",
                                id.empty() ? "a key, and no --suppression_key_file is given"
                                           : "another key than --suppression_key_file",
                                ": contacts erased after opting out would be messaged again. "
                                "Start with the key it was written with"));
  }
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(context);
  return status;
}

absl::Status CheckNotCluster(const ConnectionOptions& options) {
  absl::StatusOr<redisContext*> connected = ConnectNow(options);
  if (!connected.ok()) return connected.status();
  redisContext* context = *connected;
  auto* reply = static_cast<redisReply*>(redisCommand(context, "INFO cluster"));
  absl::Status status = absl::UnavailableError(
      absl::StrCat("Redis at ", options.host, ":", options.port, " did not answer INFO"));
  if (reply != nullptr && reply->type == REDIS_REPLY_STRING) {
    status = absl::OkStatus();
    if (absl::StrContains(absl::string_view(reply->str, reply->len), "cluster_enabled:1")) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "Redis at ", options.host, ":", options.port,
          " runs in cluster mode; this version of sendgate needs a standalone Redis (or a "
          "primary with replicas): every decision would be redirected (MOVED) and fall to the "
          "fail mode"));
    }
  }
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(context);
  return status;
}

RedisStore::RedisStore(RedisStoreOptions options) : options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    connections_.push_back(
        std::make_unique<RedisConnection>(options_.connection, options_.events));
  }
}

RedisConnection& RedisStore::ConnectionFor(absl::string_view contact_id) {
  return *connections_[core::NameId(contact_id) % connections_.size()];
}

void RedisStore::Check(const core::CheckPlan& plan, absl::Time deadline, CheckCallback done) {
  ConnectionFor(plan.contact_id)
      .SendFcall(DecideCommand(plan), deadline,
                  [shape = ReplyShape(plan),
                   shadow = plan.shadow != nullptr
                                ? std::optional<ReplyShape>(ReplyShape(*plan.shadow))
                                : std::nullopt,
                   done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
                    if (!reply.ok()) return done(reply.status());
                    absl::StatusOr<core::CheckResult> result =
                        ParseDecideReply(*reply, shape, shadow);
                    if (!result.ok()) return done(Logged(result.status()));
                    done(std::move(result));
                  });
}

void RedisStore::Cancel(absl::string_view contact_id, absl::string_view message_id,
                        absl::Time deadline, CancelCallback done) {
  const uint64_t hash = core::MessageHash(message_id);
  const std::vector<std::string> keys = ContactKeys(contact_id);
  std::string args[static_cast<int>(contract::CancelArg::kCount)];
  args[static_cast<int>(contract::CancelArg::kHashLow)] = absl::StrCat(hash & 0xffffffff);
  args[static_cast<int>(contract::CancelArg::kHashHigh)] = absl::StrCat(hash >> 32);
  ConnectionFor(contact_id)
      .SendFcall(
          FormatFcall(kCancelFunction, std::vector<absl::string_view>(keys.begin(), keys.end()),
                      {args[0], args[1]}),
          deadline, [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
            if (!reply.ok()) return done(reply.status());
            const redisReply* answer = *reply;
            if (answer->type == REDIS_REPLY_ERROR) return done(Logged(ReplyError(answer)));
            if (answer->type != REDIS_REPLY_INTEGER || answer->integer < 0 ||
                answer->integer > 1) {
              return done(Logged(StoreError(StoreErrorKind::kMalformedReply,
                                            "cancel.lua answered something other than 0 or 1")));
            }
            done(answer->integer == 1);
          });
}

void RedisStore::ReadHistory(absl::string_view contact_id, absl::Time deadline,
                             HistoryCallback done) {
  // Today's lists, then where a version before editions kept them (read as the scripts would
  // move them: after today's records), then the planned sends.
  const std::string keys[] = {MainHistoryKey(contact_id), ExemptHistoryKey(contact_id),
                              V1MainHistoryKey(contact_id), V1ExemptHistoryKey(contact_id),
                              PlannedKey(contact_id)};
  ConnectionFor(contact_id)
      .Send(FormatCommand({"MGET", keys[0], keys[1], keys[2], keys[3], keys[4]}), deadline,
            [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
              if (!reply.ok()) return done(reply.status());
              const redisReply* answer = *reply;
              if (answer->type == REDIS_REPLY_ERROR) return done(Logged(ReplyError(answer)));
              if (answer->type != REDIS_REPLY_ARRAY || answer->elements != 5) {
                return done(Logged(StoreError(StoreErrorKind::kMalformedReply,
                                              "MGET answered something other than 5 values")));
              }
              core::History history;
              if (const redisReply* planned = answer->element[4];
                  planned->type == REDIS_REPLY_STRING) {
                absl::StatusOr<std::vector<core::PlannedSend>> sends =
                    DecodePlanned(absl::string_view(planned->str, planned->len));
                if (!sends.ok()) return done(Logged(sends.status()));
                history.planned = std::move(*sends);
              }
              for (int i = 0; i < 4; ++i) {
                const redisReply* element = answer->element[i];
                if (element->type == REDIS_REPLY_NIL) continue;  // no such key
                if (element->type != REDIS_REPLY_STRING) {
                  return done(Logged(StoreError(StoreErrorKind::kMalformedReply,
                                                "MGET answered a value that is not a string")));
                }
                const absl::string_view blob(element->str, element->len);
                absl::StatusOr<std::vector<core::SendRecord>> records =
                    i < 2 ? DecodeHistory(blob) : DecodeV1History(blob);
                if (!records.ok()) return done(Logged(records.status()));
                std::vector<core::SendRecord>& list = i % 2 == 0 ? history.main : history.exempt;
                list.insert(list.end(), records->begin(), records->end());
              }
              done(std::move(history));
            });
}

namespace {

// The reply as a string, or a store error saying what it is instead.
absl::StatusOr<absl::string_view> StringReply(const redisReply* reply, absl::string_view what) {
  if (reply->type == REDIS_REPLY_ERROR) return Logged(ReplyError(reply));
  if (reply->type != REDIS_REPLY_STRING) {
    return Logged(StoreError(StoreErrorKind::kMalformedReply,
                             absl::StrCat(what, " answered something other than a string")));
  }
  return absl::string_view(reply->str, reply->len);
}

absl::Status FunctionError(const redisReply* reply, absl::string_view function) {
  if (reply->type == REDIS_REPLY_ERROR) return Logged(ReplyError(reply));
  return Logged(StoreError(StoreErrorKind::kMalformedReply,
                           absl::StrCat(function, " answered something unexpected")));
}

void AppendFeed(std::vector<std::string>& args,
                const std::vector<std::pair<std::string, std::string>>& entry) {
  for (const auto& [field, value] : entry) {
    args.push_back(field);
    args.push_back(value);
  }
}

std::vector<absl::string_view> Views(const std::vector<std::string>& strings) {
  return std::vector<absl::string_view>(strings.begin(), strings.end());
}

}  // namespace

void RedisStore::PlanSends(absl::string_view contact_id,
                           const std::vector<core::PlannedChange>& changes, absl::Time now,
                           absl::Duration grace, absl::Time deadline, PlanCallback done) {
  const std::string key = PlannedKey(contact_id);
  std::vector<std::string> args(static_cast<int>(contract::PlanSendsArg::kCount));
  args[static_cast<int>(contract::PlanSendsArg::kNow)] = absl::StrCat(absl::ToUnixMillis(now));
  args[static_cast<int>(contract::PlanSendsArg::kGrace)] =
      absl::StrCat(absl::ToInt64Milliseconds(grace));
  for (const core::PlannedChange& change : changes) {
    args.push_back(change.withdraw ? "0" : "1");
    args.push_back(EncodePlanned({change.send}));
  }
  ConnectionFor(contact_id)
      .SendFcall(FormatFcall(kPlanFunction, {key}, Views(args)), deadline,
                 [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
                   if (!reply.ok()) return done(reply.status());
                   const redisReply* answer = *reply;
                   if (answer->type != REDIS_REPLY_INTEGER) {
                     return done(FunctionError(answer, "plan.lua"));
                   }
                   done(absl::OkStatus());
                 });
}

void RedisStore::ReadPreferences(absl::string_view contact_id, absl::string_view suppression_hash,
                                 absl::Time deadline, PreferencesCallback done) {
  const std::string keys[] = {PreferencesKey(contact_id), SuppressionKey(contact_id)};
  ConnectionFor(contact_id)
      .SendFcall(
          FormatFcall(kReadPreferencesFunction, {keys[0], keys[1]}, {suppression_hash}),
          deadline, [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
            if (!reply.ok()) return done(reply.status());
            const redisReply* answer = *reply;
            if (answer->type != REDIS_REPLY_ARRAY || answer->elements < 1 ||
                answer->element[0]->type != REDIS_REPLY_INTEGER) {
              return done(FunctionError(answer, "read_preferences.lua"));
            }
            const int64_t found = answer->element[0]->integer;
            if (found == 0) return done(StoredPreferences{});
            if (answer->elements != 2) return done(FunctionError(answer, "read_preferences.lua"));
            absl::StatusOr<absl::string_view> blob =
                StringReply(answer->element[1], "read_preferences.lua");
            if (!blob.ok()) return done(blob.status());
            absl::StatusOr<core::Preferences> preferences = DecodePreferences(*blob);
            if (!preferences.ok()) return done(Logged(preferences.status()));
            done(StoredPreferences{.preferences = std::move(*preferences),
                                   .from_suppression = found == 2});
          });
}

void RedisStore::WritePreferences(const PreferencesWrite& write, absl::Time deadline,
                                  WriteCallback done) {
  const std::string keys[] = {PreferencesKey(write.contact_id),
                              ConsentTrailKey(write.contact_id), options_.feed_key};
  std::vector<std::string> args = {absl::StrCat(write.read_version),
                                   EncodePreferences(write.preferences), write.consent_event,
                                   absl::StrCat(options_.trail_length),
                                   absl::StrCat(options_.feed_length)};
  AppendFeed(args, write.feed_entry);
  ConnectionFor(write.contact_id)
      .SendFcall(FormatFcall(kWritePreferencesFunction, {keys[0], keys[1], keys[2]}, Views(args)),
                  deadline,
                  [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
                    if (!reply.ok()) return done(reply.status());
                    const redisReply* answer = *reply;
                    if (answer->type != REDIS_REPLY_INTEGER || answer->integer < 0 ||
                        answer->integer > 1) {
                      return done(FunctionError(answer, "write_preferences.lua"));
                    }
                    done(answer->integer == 1);
                  });
}

void RedisStore::ReadConsentTrail(absl::string_view contact_id, absl::Time deadline,
                                  TrailCallback done) {
  const std::string key = ConsentTrailKey(contact_id);
  ConnectionFor(contact_id)
      .Send(FormatCommand({"LRANGE", key, "0", "-1"}), deadline,
            [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
              if (!reply.ok()) return done(reply.status());
              const redisReply* answer = *reply;
              if (answer->type != REDIS_REPLY_ARRAY) return done(FunctionError(answer, "LRANGE"));
              std::vector<std::string> events;
              for (size_t i = 0; i < answer->elements; ++i) {
                absl::StatusOr<absl::string_view> event = StringReply(answer->element[i], "LRANGE");
                if (!event.ok()) return done(event.status());
                events.emplace_back(*event);
              }
              done(std::move(events));
            });
}

void RedisStore::Forget(const Erasure& erasure, absl::Time deadline, ForgetCallback done) {
  const absl::string_view contact = erasure.contact_id;
  const std::string keys[] = {MainHistoryKey(contact),   ExemptHistoryKey(contact),
                              PreferencesKey(contact),   ConsentTrailKey(contact),
                              SuppressionKey(contact),   options_.feed_key,
                              V1MainHistoryKey(contact), V1ExemptHistoryKey(contact),
                              PlannedKey(contact)};
  std::vector<std::string> args = {absl::StrCat(erasure.read_version), erasure.suppression_hash,
                                   EncodePreferences(erasure.suppression),
                                   absl::StrCat(options_.feed_length)};
  AppendFeed(args, erasure.feed_entry);
  ConnectionFor(contact).SendFcall(
      FormatFcall(kForgetFunction,
                  {keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7],
                   keys[8]},
                  Views(args)),
      deadline, [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
        if (!reply.ok()) return done(reply.status());
        const redisReply* answer = *reply;
        if (answer->type != REDIS_REPLY_ARRAY || answer->elements < 1 ||
            answer->element[0]->type != REDIS_REPLY_INTEGER) {
          return done(FunctionError(answer, "forget.lua"));
        }
        if (answer->element[0]->integer == 0) return done(std::optional<bool>());
        if (answer->elements != 2 || answer->element[1]->type != REDIS_REPLY_INTEGER) {
          return done(FunctionError(answer, "forget.lua"));
        }
        done(std::optional<bool>(answer->element[1]->integer == 1));
      });
}

bool RedisStore::healthy() const {
  for (const auto& connection : connections_) {
    if (!connection->connected()) return false;
  }
  return true;
}

}  // namespace sendgate::store
