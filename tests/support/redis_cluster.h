// A real Redis Cluster on loopback for tests: `primaries` redis-server processes with
// `replicas` replicas each, on free ports, joined by `redis-cli --cluster create`, the append-only
// file on and a short node timeout (1 s) so that a failover takes a few seconds.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/redis_server.h"

namespace sendgate::testing {

class RedisCluster {
 public:
  // `arguments`: more redis-server arguments for every node (an --aclfile ...).
  explicit RedisCluster(int primaries = 3, int replicas = 1,
                        const std::vector<std::string>& arguments = {});

  // "127.0.0.1:P1,127.0.0.1:P2,...": every node, for --redis.
  std::string seeds() const;
  int size() const { return static_cast<int>(nodes_.size()); }
  RedisServer& node(int i) { return *nodes_[i]; }

  // The node serving `key` now (asked of a live node), or -1.
  int PrimaryOf(const std::string& key);
  // Runs redis-cli on the primary of `key`.
  std::string CliOnOwner(const std::string& key, const std::vector<std::string>& args);
  // Waits until every live node says cluster_state:ok, every live replica has synchronized
  // with its primary, and the nodes agree on who serves every slot.
  bool WaitUntilHealthy(double seconds);

  // Every node's index, except those in `dead`.
  std::vector<int> Live() const;
  void MarkDead(int i) { dead_.push_back(i); }
  void MarkAlive(int i);

 private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<int> dead_;
};

}  // namespace sendgate::testing
