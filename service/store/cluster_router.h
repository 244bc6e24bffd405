// Commands to the primaries of a Redis Cluster, by slot (hiredis 0.14 has no cluster client).
// The slot map comes from CLUSTER SLOTS, at start and then on a thread of its own: every
// `refresh_every`, and soon after a redirection or a lost connection. Each primary gets
// `connections_per_node` RedisConnections (each on its own loop thread), and a contact always
// goes to the same one. A reply that redirects is followed here, so that callers see the
// answer of the node that serves the slot:
//   MOVED   the slot has moved: the map takes the new owner at once, and the command goes there;
//   ASK     the slot is migrating: that one command goes to the node named, after ASKING;
//   TRYAGAIN, CLUSTERDOWN   sent again a little later, while the deadline allows.
// A command is only ever sent again after a reply that says it was not executed (a
// redirection or a refusal); a connection lost with the command in flight is reported, never
// retried (the command may have run).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "service/store/cluster_topology.h"
#include "service/store/redis_connection.h"
#include "service/store/slots.h"

namespace sendgate::store {

struct ClusterRouterOptions {
  std::vector<NodeAddress> seeds;  // where to ask for the topology first
  ConnectionOptions connection;    // credentials and timeouts; host and port are each node's
  int connections_per_node = 2;
  bool connection_for_waits = false;  // one more per node for calls that WAIT (NodeConnections)
  ConnectionEvents events;
  absl::Duration refresh_every = absl::Seconds(5);
  absl::Duration refresh_at_most_every = absl::Milliseconds(100);
  absl::Duration retry_after = absl::Milliseconds(20);  // TRYAGAIN, CLUSTERDOWN
  int max_redirects = 5;
  size_t max_waiting_retries = 10000;  // beyond this a TRYAGAIN is answered at once
  // A node that has served no slot for this long (a failed or demoted primary, a node removed,
  // an address a restarted pod no longer has) is let go: its connections are closed.
  absl::Duration retire_after = absl::Minutes(1);
};

class ClusterRouter {
 public:
  using Callback = RedisConnection::Callback;

  // Asks the seeds for the topology (blocking, once), then starts the refresh thread. With no
  // answer, every slot is unserved (calls fail at once) until a refresh gets one.
  explicit ClusterRouter(ClusterRouterOptions options);
  ~ClusterRouter();
  ClusterRouter(const ClusterRouter&) = delete;
  ClusterRouter& operator=(const ClusterRouter&) = delete;

  // Sends `wire` to the primary of `slot`, on its connection `spread` % connections_per_node;
  // `done` as RedisConnection's, with the final reply. `replicas` as RedisConnection::SendFcall.
  void Send(int slot, uint64_t spread, std::string wire, bool function_call, absl::Time deadline,
            Callback done, int replicas = 0);

  // Every slot has a primary, and every connection to those primaries is up.
  bool healthy() const;
  // Every node the router keeps connections to (the primaries, and nodes not yet let go).
  std::vector<NodeAddress> nodes() const;
  // Asks the refresh thread for the topology soon (at most every refresh_at_most_every).
  void RequestRefresh();

 private:
  struct Node {
    NodeAddress address;
    std::unique_ptr<NodeConnections> connections;
    absl::Time needed_at;  // under nodes_mutex_: when it last served a slot or was named
  };
  struct Call {
    int slot;
    uint64_t spread;
    std::string wire;
    bool function_call;
    absl::Time deadline;
    Callback done;
    int replicas = 0;
    int redirects = 0;
    Node* ask = nullptr;  // ASK: the next send goes there, after ASKING
  };

  void Dispatch(std::unique_ptr<Call> call);
  void OnReply(std::unique_ptr<Call> call, absl::StatusOr<const redisReply*> reply);
  // True when `reply` is a redirection or a refusal that was acted on (`call` is sent again).
  bool Redirected(std::unique_ptr<Call>& call, const redisReply* reply);
  void RetryLater(std::unique_ptr<Call> call);
  // Tells options_.events.on_redirect: "moved", "ask" or "retry".
  void Report(absl::string_view redirect_kind) const;
  Node* NodeAt(const NodeAddress& address);  // connects to one not seen before
  // Blocking; true when a node answered. Asks the primaries that answer first (a frozen one
  // would hold the refresh for its connect timeout), then the others, then the seeds.
  bool Refresh();
  void Apply(const ClusterTopology& topology);
  std::set<const Node*> Serving() const;  // the nodes that serve a slot now
  // Lets go of the nodes that have served no slot for retire_after. A caller that read a slot's
  // owner just before it changed is done with it within microseconds, and a node is let go a
  // minute later: the grace period that makes this safe without a lock on the hot path.
  void RetireIdleNodes();
  void Work();  // the refresh thread: refreshes and retries

  const ClusterRouterOptions options_;
  std::array<std::atomic<Node*>, kSlots> owner_{};
  std::atomic<bool> closing_{false};

  mutable std::mutex nodes_mutex_;
  std::vector<std::unique_ptr<Node>> nodes_;  // pointed to by owner_ and calls: see RetireIdleNodes

  std::mutex work_mutex_;
  std::condition_variable work_;
  bool refresh_requested_ = false;
  bool stopping_ = false;
  std::multimap<absl::Time, std::unique_ptr<Call>> retries_;
  std::thread worker_;
};

}  // namespace sendgate::store
