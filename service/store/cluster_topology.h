// What a Redis Cluster says about itself: which primary serves each slot (CLUSTER SLOTS), and
// where a node sends a command it does not serve (MOVED and ASK redirections), as the cluster
// specification defines them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/store/redis_connection.h"

struct redisReply;

namespace sendgate::store {

struct NodeAddress {
  std::string host;
  int port = 0;

  std::string ToString() const { return host + ":" + std::to_string(port); }
  bool operator==(const NodeAddress&) const = default;
};

struct ClusterTopology {
  std::vector<NodeAddress> primaries;
  // Per slot, the index of its primary in `primaries`; -1 when no node serves it.
  std::vector<int> owner;
};

// The topology in a CLUSTER SLOTS reply. A node listed without an address (Redis 7 may answer
// "" or "?" for the node it runs on) is the one that was asked, `asked`.
absl::StatusOr<ClusterTopology> ParseClusterSlots(const redisReply* reply,
                                                  const NodeAddress& asked);

// Asks the node at `node` (with the credentials and timeouts of `options`) for the topology;
// blocking.
absl::StatusOr<ClusterTopology> FetchTopology(const ConnectionOptions& options,
                                              const NodeAddress& node);

struct Redirect {
  bool ask = false;  // ASK: this one command goes there, after ASKING; MOVED: the slot moved
  int slot = 0;
  NodeAddress node;
};

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381" (an error reply's text): where to
// send the command instead; nullopt for any other text.
std::optional<Redirect> ParseRedirect(absl::string_view error);

// A host:port in a --redis list; nullopt when it is not one.
std::optional<NodeAddress> ParseNodeAddress(absl::string_view text);

}  // namespace sendgate::store
