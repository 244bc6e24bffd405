// The Store on Redis: a few hiredis async connections, each on its own loop thread; a contact
// always goes to the same connection; one EVALSHA of decide.lua per decision.
// Keys of a contact share one hash tag: sg:{<contact_id>}:h2 (main history) and
// sg:{<contact_id>}:e2 (exempt history); see docs/redis.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "service/store/cluster_router.h"
#include "service/store/redis_connection.h"
#include "service/store/store.h"

namespace sendgate::store {

struct RedisStoreOptions {
  ConnectionOptions connection;
  int connections = 2;  // per Redis primary
  // Redis Cluster: the nodes to ask for the topology first (empty: a standalone Redis at
  // `connection`); docs/redis.md, "Redis Cluster".
  std::vector<NodeAddress> cluster_seeds;
  // Replicas that must have a preference write (WritePreferences, Forget) before it is
  // acknowledged (WAIT within the deadline; fewer in time: kUnavailable); -1: 1 on a cluster,
  // 0 on a standalone Redis.
  int wait_replicas = -1;
  ConnectionEvents events;  // shared by all connections; called on their loop threads
  // The change feed (a stream a CRM consumes) and its approximate length bound, and how many
  // consent events a contact's trail keeps.
  std::string feed_key = "sg:changes";
  int64_t feed_length = 1000000;
  int64_t trail_length = 500;
};

// Asks the Redis at `options` (blocking, at start-up) whether it runs in cluster mode;
// UNAVAILABLE when it cannot be asked.
absl::StatusOr<bool> IsCluster(const ConnectionOptions& options);

// Asks the Redis at `options` (blocking, at start-up) whether its suppression list was written
// with the key of `fingerprint` ("" when no key is configured): FAILED_PRECONDITION when it was
// written with another key, or with one while none is configured now (the forgotten contacts
// who opted out would become reachable again). Records the fingerprint on first use. On a
// cluster, the node that serves the key is asked (one MOVED followed). UNAVAILABLE when it
// cannot be asked.
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
  void ConfirmPreferences(absl::string_view contact_id, int64_t read_version,
                          absl::Time deadline, WriteCallback done) override;
  void ReadConsentTrail(absl::string_view contact_id, absl::Time deadline,
                        TrailCallback done) override;
  void Forget(const Erasure& erasure, absl::Time deadline, ForgetCallback done) override;
  bool healthy() const override;
  bool cluster() const { return router_ != nullptr; }

 private:
  enum class Command { kPlain, kFunction };
  // Sends a command on `contact_id`'s keys: to its connection of a standalone Redis, or
  // through the cluster router to the primary of its slot.
  void Send(absl::string_view contact_id, Command command, std::string wire, absl::Time deadline,
            RedisConnection::Callback done, int replicas = 0);
  // Sends `command`, decide.lua's call for `plan`, and answers its parsed reply.
  void SendDecide(const core::CheckPlan& plan, std::string command, absl::Time deadline,
                  CheckCallback done);
  // On a cluster, a plan with capacity counters: they are taken first, by calls of their own
  // (capacity_on_cluster.h), then the contact's decide runs with their values.
  void CheckTakingCapacity(const core::CheckPlan& plan, absl::Time deadline, CheckCallback done);
  // The replicas a preference write waits for (options_.wait_replicas resolved).
  int PreferenceReplicas() const;
  // The change feed's key as a function of a contact's call takes it, and the length bound it
  // is given: on a cluster the feed is in another slot, so the function gets a key of the
  // contact's slot and 0 (no entry), and AppendToFeed writes the entry after it.
  std::pair<std::string, std::string> FeedArguments(absl::string_view contact_id) const;
  // On a cluster, the XADD of `entry` that AppendToFeed sends after the contact's call; empty
  // on a standalone Redis (the function writes the entry).
  std::string FeedCommand(const std::vector<std::pair<std::string, std::string>>& entry) const;
  // Answers a preference write that `failed`: when Redis ran it all the same (WrittenOnPrimary():
  // its replicas fell short), its feed entry is written first, in a time of its own (the WAIT
  // had the call's).
  void FailWrite(std::string feed_command, absl::Status failed,
                 absl::AnyInvocable<void(absl::Status)> answer);
  // Sends `feed_command` (FeedCommand) then runs `done`; at once when it is empty.
  void AppendToFeed(std::string feed_command, absl::Time deadline,
                    absl::AnyInvocable<void()> done);

  const RedisStoreOptions options_;
  std::unique_ptr<NodeConnections> node_;  // standalone
  std::unique_ptr<ClusterRouter> router_;  // cluster
};

}  // namespace sendgate::store
