// The Store on Redis: a few hiredis async connections, each on its own loop thread; a contact
// always goes to the same connection; one EVALSHA of decide.lua per decision.
// Keys of a contact share one hash tag: sg:{<contact_id>}:h2 (main history) and
// sg:{<contact_id>}:e2 (exempt history); see docs/redis.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "service/store/redis_connection.h"
#include "service/store/store.h"

namespace sendgate::store {

struct RedisStoreOptions {
  ConnectionOptions connection;
  int connections = 2;
  ConnectionEvents events;  // shared by all connections; called on their loop threads
  // The change feed (a stream a CRM consumes) and its approximate length bound, and how many
  // consent events a contact's trail keeps.
  std::string feed_key = "sg:changes";
  int64_t feed_length = 1000000;
  int64_t trail_length = 500;
};

// Asks the Redis at `options` (blocking, at start-up) whether it runs in cluster mode, which
// this version cannot use: FAILED_PRECONDITION saying so when it does, UNAVAILABLE when it
// cannot be asked (sendgate then starts anyway, and the fail modes answer until it can).
absl::Status CheckNotCluster(const ConnectionOptions& options);

// Asks the Redis at `options` (blocking, at start-up) whether its suppression list was written
// with the key of `fingerprint` ("" when no key is configured): FAILED_PRECONDITION when it was
// written with another key, or with one while none is configured now (the forgotten contacts
// who opted out would become reachable again). Records the fingerprint on first use.
// UNAVAILABLE when it cannot be asked.
absl::Status CheckSuppressionKey(const ConnectionOptions& options, absl::string_view fingerprint);

class RedisStore final : public Store {
 public:
  explicit RedisStore(RedisStoreOptions options);

  void Check(const core::CheckPlan& plan, absl::Time deadline, CheckCallback done) override;
  void Cancel(absl::string_view contact_id, absl::string_view message_id, absl::Time deadline,
              CancelCallback done) override;
  void ReadHistory(absl::string_view contact_id, absl::Time deadline,
                   HistoryCallback done) override;
  void PlanSends(absl::string_view contact_id, const std::vector<core::PlannedChange>& changes,
                 absl::Time now, absl::Duration grace, absl::Time deadline,
                 PlanCallback done) override;
  void ReadPreferences(absl::string_view contact_id, absl::string_view suppression_hash,
                       absl::Time deadline, PreferencesCallback done) override;
  void WritePreferences(const PreferencesWrite& write, absl::Time deadline,
                        WriteCallback done) override;
  void ReadConsentTrail(absl::string_view contact_id, absl::Time deadline,
                        TrailCallback done) override;
  void Forget(const Erasure& erasure, absl::Time deadline, ForgetCallback done) override;
  bool healthy() const override;

 private:
  RedisConnection& ConnectionFor(absl::string_view contact_id);

  const RedisStoreOptions options_;
  std::vector<std::unique_ptr<RedisConnection>> connections_;
};

}  // namespace sendgate::store
