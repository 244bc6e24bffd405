#include "service/store/redis_store.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/core/names.h"
#include "service/metrics/log.h"
#include "service/store/blocking_redis.h"
#include "service/store/capacity_on_cluster.h"
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
      metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5), metrics::EveryFewSeconds(5)};
  if (throttles[static_cast<int>(kind)].Due()) {
    metrics::Log(metrics::Severity::kError, "store",
                 absl::StrCat(KindCause(kind), ": ", status.message()));
  }
  return status;
}

}  // namespace

namespace {

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

constexpr char kSuppressionKeyId[] = "sg:suppression-key-id";

}  // namespace

namespace {

// The suppression key check's reply, from the node that serves the key: a cluster node that
// does not answers MOVED, followed once.
OwnedReply AskSuppressionKeyId(const ConnectionOptions& options, absl::string_view id,
                               absl::Status& status) {
  ConnectionOptions at = options;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<BlockingContext> context = ConnectNow(at);
    if (!context.ok()) {
      status = context.status();
      return nullptr;
    }
    OwnedReply reply = id.empty() ? CommandNow(context->get(), "GET %s", kSuppressionKeyId)
                                  : CommandNow(context->get(), "SET %s %b NX GET",
                                               kSuppressionKeyId, id.data(), id.size());
    const std::optional<Redirect> moved =
        reply != nullptr && reply->type == REDIS_REPLY_ERROR
            ? ParseRedirect(absl::string_view(reply->str, reply->len))
            : std::nullopt;
    if (!moved.has_value()) return reply;
    at.host = moved->node.host;
    at.port = moved->node.port;
  }
  return nullptr;
}

}  // namespace

absl::Status CheckSuppressionKey(const ConnectionOptions& options, absl::string_view fingerprint) {
  const std::string id(fingerprint);
  absl::Status status = absl::UnavailableError("Redis did not answer the suppression key check");
  const OwnedReply reply = AskSuppressionKeyId(options, id, status);
  if (reply == nullptr) return status;
  if (reply->type == REDIS_REPLY_NIL) return absl::OkStatus();
  if (reply->type != REDIS_REPLY_STRING) return status;
  const absl::string_view stored(reply->str, reply->len);
  if (stored == id) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the suppression list in Redis was written with ",
                   id.empty() ? "a key, and no --suppression_key_file is given"
                              : "another key than --suppression_key_file",
                   ": contacts erased after opting out would be messaged again. "
                   "Start with the key it was written with"));
}

absl::StatusOr<bool> IsCluster(const ConnectionOptions& options) {
  absl::StatusOr<BlockingContext> context = ConnectNow(options);
  if (!context.ok()) return context.status();
  const OwnedReply reply = CommandNow(context->get(), "INFO cluster");
  if (reply == nullptr || reply->type != REDIS_REPLY_STRING) {
    return absl::UnavailableError(
        absl::StrCat("Redis at ", options.host, ":", options.port, " did not answer INFO"));
  }
  return absl::StrContains(absl::string_view(reply->str, reply->len), "cluster_enabled:1");
}

RedisStore::RedisStore(RedisStoreOptions options) : options_(std::move(options)) {
  if (!options_.cluster_seeds.empty()) {
    router_ = std::make_unique<ClusterRouter>(
        ClusterRouterOptions{.seeds = options_.cluster_seeds,
                             .connection = options_.connection,
                             .connections_per_node = options_.connections,
                             .connection_for_waits = PreferenceReplicas() > 0,
                             .events = options_.events});
    return;
  }
  node_ = std::make_unique<NodeConnections>(options_.connection, options_.events,
                                            options_.connections, PreferenceReplicas() > 0);
}

void RedisStore::Send(absl::string_view contact_id, Command command, std::string wire,
                      absl::Time deadline, RedisConnection::Callback done, int replicas) {
  const uint64_t spread = core::NameId(contact_id);
  if (router_ != nullptr) {
    return router_->Send(SlotOf(MainHistoryKey(contact_id)), spread, std::move(wire),
                         command == Command::kFunction, deadline, std::move(done), replicas);
  }
  RedisConnection& connection = node_->For(spread, replicas);
  if (command == Command::kFunction) {
    connection.SendFcall(std::move(wire), deadline, std::move(done), replicas);
  } else {
    connection.Send(std::move(wire), deadline, std::move(done));
  }
}

int RedisStore::PreferenceReplicas() const {
  if (options_.wait_replicas >= 0) return options_.wait_replicas;
  return options_.cluster_seeds.empty() ? 0 : 1;
}

std::pair<std::string, std::string> RedisStore::FeedArguments(absl::string_view contact_id) const {
  if (router_ == nullptr) return {options_.feed_key, absl::StrCat(options_.feed_length)};
  return {PreferencesKey(contact_id), "0"};
}

std::string RedisStore::FeedCommand(
    const std::vector<std::pair<std::string, std::string>>& entry) const {
  if (router_ == nullptr) return "";
  std::vector<std::string> argv = {
      "XADD", options_.feed_key, "MAXLEN", "~", absl::StrCat(options_.feed_length), "*"};
  AppendFeed(argv, entry);
  return FormatCommand(Views(argv));
}

void RedisStore::AppendToFeed(std::string feed_command, absl::Time deadline,
                              absl::AnyInvocable<void()> done) {
  if (feed_command.empty()) return done();
  router_->Send(
      SlotOf(options_.feed_key), 0, std::move(feed_command), /*function_call=*/false, deadline,
      [this, done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
        const bool written = reply.ok() && (*reply)->type == REDIS_REPLY_STRING;
        if (!written && options_.events.on_feed_entry_lost) options_.events.on_feed_entry_lost();
        static metrics::EveryFewSeconds throttle(5);
        if (!written && throttle.Due()) {
          metrics::Log(
              metrics::Severity::kError, "store",
              absl::StrCat("a change-feed entry was not written (the change "
                           "itself was, and is in the consent trail): ",
                           reply.ok() ? "Redis answered an error" : reply.status().message()));
        }
        done();
      });
}

void RedisStore::FailWrite(std::string feed_command, absl::Status failed,
                           absl::AnyInvocable<void(absl::Status)> answer) {
  constexpr absl::Duration kLateEntry = absl::Milliseconds(250);  // --redis_timeout's default
  if (!IsWrittenOnPrimary(failed)) return answer(std::move(failed));
  AppendToFeed(std::move(feed_command), absl::Now() + kLateEntry,
               [failed = std::move(failed), answer = std::move(answer)]() mutable {
                 answer(std::move(failed));
               });
}

void RedisStore::Check(const core::CheckPlan& plan, absl::Time deadline, CheckCallback done) {
  if (router_ != nullptr &&
      (!plan.capacity.empty() || (plan.shadow != nullptr && !plan.shadow->capacity.empty()))) {
    return CheckTakingCapacity(plan, deadline, std::move(done));
  }
  SendDecide(plan, DecideCommand(plan), deadline, std::move(done));
}

void RedisStore::SendDecide(const core::CheckPlan& plan, std::string command, absl::Time deadline,
                            CheckCallback done) {
  Send(plan.contact_id, Command::kFunction, std::move(command), deadline,
       [shape = ReplyShape(plan),
        shadow = plan.shadow != nullptr ? std::optional<ReplyShape>(ReplyShape(*plan.shadow))
                                        : std::nullopt,
        done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
         if (!reply.ok()) return done(reply.status());
         absl::StatusOr<core::CheckResult> result = ParseDecideReply(*reply, shape, shadow);
         if (!result.ok()) return done(Logged(result.status()));
         done(std::move(result));
       });
}

void RedisStore::CheckTakingCapacity(const core::CheckPlan& plan, absl::Time deadline,
                                     CheckCallback done) {
  auto kept = std::make_shared<const core::CheckPlan>(plan);
  TakeCapacity(
      *router_, *kept, deadline,
      [this, kept, deadline, done = std::move(done)](absl::StatusOr<TakenCapacity> taken) mutable {
        if (!taken.ok()) return done(Logged(taken.status()));
        std::string command = DecideCommand(*kept, &taken->before);
        SendDecide(*kept, std::move(command), deadline,
                   [this, kept, taken = std::move(*taken),
                    done = std::move(done)](absl::StatusOr<core::CheckResult> result) mutable {
                     if (MustGiveBack(result)) GiveBackCapacity(*router_, *kept, taken);
                     done(std::move(result));
                   });
      });
}

void RedisStore::Cancel(absl::string_view contact_id, absl::string_view message_id,
                        absl::Time deadline, CancelCallback done) {
  const uint64_t hash = core::MessageHash(message_id);
  const std::vector<std::string> keys = ContactKeys(contact_id);
  std::string args[static_cast<int>(contract::CancelArg::kCount)];
  args[static_cast<int>(contract::CancelArg::kHashLow)] = absl::StrCat(hash & 0xffffffff);
  args[static_cast<int>(contract::CancelArg::kHashHigh)] = absl::StrCat(hash >> 32);
  Send(contact_id, Command::kFunction,
       FormatFcall(kCancelFunction, std::vector<absl::string_view>(keys.begin(), keys.end()),
                   {args[0], args[1]}),
       deadline, [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
         if (!reply.ok()) return done(reply.status());
         const redisReply* answer = *reply;
         if (answer->type == REDIS_REPLY_ERROR) return done(Logged(ReplyError(answer)));
         if (answer->type != REDIS_REPLY_INTEGER || answer->integer < 0 || answer->integer > 1) {
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
  Send(contact_id, Command::kPlain,
       FormatCommand({"MGET", keys[0], keys[1], keys[2], keys[3], keys[4]}), deadline,
       [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
         if (!reply.ok()) return done(reply.status());
         const redisReply* answer = *reply;
         if (answer->type == REDIS_REPLY_ERROR) return done(Logged(ReplyError(answer)));
         if (answer->type != REDIS_REPLY_ARRAY || answer->elements != 5) {
           return done(Logged(StoreError(StoreErrorKind::kMalformedReply,
                                         "MGET answered something other than 5 values")));
         }
         core::History history;
         if (const redisReply* planned = answer->element[4]; planned->type == REDIS_REPLY_STRING) {
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
  Send(contact_id, Command::kFunction, FormatFcall(kPlanFunction, {key}, Views(args)), deadline,
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
  Send(contact_id, Command::kFunction,
       FormatFcall(kReadPreferencesFunction, {keys[0], keys[1]}, {suppression_hash}), deadline,
       [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
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
  const auto [feed_key, feed_length] = FeedArguments(write.contact_id);
  const std::string keys[] = {PreferencesKey(write.contact_id), ConsentTrailKey(write.contact_id),
                              feed_key};
  std::vector<std::string> args = {absl::StrCat(write.read_version),
                                   EncodePreferences(write.preferences), write.consent_event,
                                   absl::StrCat(options_.trail_length), feed_length};
  AppendFeed(args, write.feed_entry);
  Send(
      write.contact_id, Command::kFunction,
      FormatFcall(kWritePreferencesFunction, {keys[0], keys[1], keys[2]}, Views(args)), deadline,
      [this, feed = FeedCommand(write.feed_entry), deadline,
       done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
        if (!reply.ok()) return FailWrite(std::move(feed), reply.status(), std::move(done));
        const redisReply* answer = *reply;
        if (answer->type != REDIS_REPLY_INTEGER || answer->integer < 0 || answer->integer > 1) {
          return done(FunctionError(answer, "write_preferences.lua"));
        }
        if (answer->integer == 0) return done(false);
        AppendToFeed(std::move(feed), deadline, [done = std::move(done)]() mutable { done(true); });
      },
      PreferenceReplicas());
}

void RedisStore::ConfirmPreferences(absl::string_view contact_id, int64_t read_version,
                                    absl::Time deadline, WriteCallback done) {
  if (PreferenceReplicas() == 0) return done(true);
  const std::string key = PreferencesKey(contact_id);
  const std::string version = absl::StrCat(read_version);
  Send(
      contact_id, Command::kFunction, FormatFcall(kConfirmPreferencesFunction, {key}, {version}),
      deadline,
      [done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
        if (!reply.ok()) return done(reply.status());
        const redisReply* answer = *reply;
        if (answer->type != REDIS_REPLY_INTEGER || answer->integer < 0 || answer->integer > 1) {
          return done(FunctionError(answer, "confirm_preferences.lua"));
        }
        done(answer->integer == 1);
      },
      PreferenceReplicas());
}

void RedisStore::ReadConsentTrail(absl::string_view contact_id, absl::Time deadline,
                                  TrailCallback done) {
  const std::string key = ConsentTrailKey(contact_id);
  Send(contact_id, Command::kPlain, FormatCommand({"LRANGE", key, "0", "-1"}), deadline,
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
  const auto [feed_key, feed_length] = FeedArguments(contact);
  const std::string keys[] = {
      MainHistoryKey(contact),   ExemptHistoryKey(contact),   PreferencesKey(contact),
      ConsentTrailKey(contact),  SuppressionKey(contact),     feed_key,
      V1MainHistoryKey(contact), V1ExemptHistoryKey(contact), PlannedKey(contact)};
  std::vector<std::string> args = {absl::StrCat(erasure.read_version), erasure.suppression_hash,
                                   EncodePreferences(erasure.suppression), feed_length};
  AppendFeed(args, erasure.feed_entry);
  Send(
      contact, Command::kFunction,
      FormatFcall(kForgetFunction,
                  {keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7], keys[8]},
                  Views(args)),
      deadline,
      [this, feed = FeedCommand(erasure.feed_entry), deadline,
       done = std::move(done)](absl::StatusOr<const redisReply*> reply) mutable {
        if (!reply.ok()) return FailWrite(std::move(feed), reply.status(), std::move(done));
        const redisReply* answer = *reply;
        if (answer->type != REDIS_REPLY_ARRAY || answer->elements < 1 ||
            answer->element[0]->type != REDIS_REPLY_INTEGER) {
          return done(FunctionError(answer, "forget.lua"));
        }
        if (answer->element[0]->integer == 0) return done(std::optional<bool>());
        if (answer->elements != 2 || answer->element[1]->type != REDIS_REPLY_INTEGER) {
          return done(FunctionError(answer, "forget.lua"));
        }
        const bool erased = answer->element[1]->integer == 1;
        AppendToFeed(std::move(feed), deadline,
                     [erased, done = std::move(done)]() mutable { done(std::optional(erased)); });
      },
      PreferenceReplicas());
}

bool RedisStore::healthy() const {
  return router_ != nullptr ? router_->healthy() : node_->connected();
}

}  // namespace sendgate::store
