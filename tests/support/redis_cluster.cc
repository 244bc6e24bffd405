#include "tests/support/redis_cluster.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sendgate::testing {

RedisCluster::RedisCluster(int primaries, int replicas,
                           const std::vector<std::string>& arguments) {
  std::vector<std::string> node_arguments = {"--cluster-enabled", "yes", "--cluster-config-file",
                                             "nodes.conf", "--cluster-node-timeout", "1000",
                                             "--appendonly", "yes"};
  node_arguments.insert(node_arguments.end(), arguments.begin(), arguments.end());
  for (int i = 0; i < primaries * (1 + replicas); ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(node_arguments));
  }
  std::string create = "redis-cli --cluster create";
  for (const auto& node : nodes_) create += " " + node->address();
  create += " --cluster-replicas " + std::to_string(replicas) + " --cluster-yes > /dev/null 2>&1";
  if (std::system(create.c_str()) != 0) throw std::runtime_error("redis-cli --cluster create");
  if (!WaitUntilHealthy(30)) throw std::runtime_error("the test's Redis Cluster did not settle");
}

std::string RedisCluster::seeds() const {
  std::vector<std::string> addresses;
  for (const auto& node : nodes_) addresses.push_back(node->address());
  return absl::StrJoin(addresses, ",");
}

std::vector<int> RedisCluster::Live() const {
  std::vector<int> live;
  for (int i = 0; i < size(); ++i) {
    if (std::find(dead_.begin(), dead_.end(), i) == dead_.end()) live.push_back(i);
  }
  return live;
}

void RedisCluster::MarkAlive(int i) {
  dead_.erase(std::remove(dead_.begin(), dead_.end(), i), dead_.end());
}

int RedisCluster::PrimaryOf(const std::string& key) {
  for (int i : Live()) {
    const std::string slot = nodes_[i]->Cli({"CLUSTER", "KEYSLOT", key});
    // CLUSTER SLOTS, flattened by redis-cli: start, end, ip, port, id, (replicas...) per range.
    const std::vector<std::string> lines =
        absl::StrSplit(nodes_[i]->Cli({"CLUSTER", "SLOTS"}), '\n');
    int wanted = 0;
    if (!absl::SimpleAtoi(slot, &wanted)) continue;
    for (size_t line = 0; line + 3 < lines.size(); ++line) {
      int start = 0, end = 0, port = 0;
      if (absl::SimpleAtoi(lines[line], &start) && absl::SimpleAtoi(lines[line + 1], &end) &&
          lines[line + 2] == "127.0.0.1" && absl::SimpleAtoi(lines[line + 3], &port) &&
          start <= wanted && wanted <= end) {
        for (int n = 0; n < size(); ++n) {
          if (nodes_[n]->port() == port) return n;
        }
      }
    }
  }
  return -1;
}

std::string RedisCluster::CliOnOwner(const std::string& key, const std::vector<std::string>& args) {
  const int owner = PrimaryOf(key);
  return owner < 0 ? "" : nodes_[owner]->Cli(args);
}

bool RedisCluster::WaitUntilHealthy(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    bool ok = true;
    std::string first_view;
    for (int i : Live()) {
      ok = ok && absl::StrContains(nodes_[i]->Cli({"CLUSTER", "INFO"}), "cluster_state:ok");
      // A replica that has not synchronized cannot take over (and holds nothing yet).
      const std::string replication = nodes_[i]->Cli({"INFO", "replication"});
      ok = ok && (absl::StrContains(replication, "role:master") ||
                  absl::StrContains(replication, "master_link_status:up"));
    }
    if (ok) {
      // Every live node's check of the whole cluster passes (slots covered, configs agree).
      const std::string check =
          "redis-cli --cluster check " + nodes_[Live().front()]->address() + " > /dev/null 2>&1";
      if (std::system(check.c_str()) == 0) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace sendgate::testing
