#include "service/store/cluster_topology.h"

#include <hiredis/hiredis.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/store/blocking_redis.h"
#include "service/store/slots.h"

namespace sendgate::store {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("CLUSTER SLOTS answered ", what));
}

// A node entry of CLUSTER SLOTS: [ip, port, id, ...].
absl::StatusOr<NodeAddress> NodeOf(const redisReply* entry, const NodeAddress& asked) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING ||
      entry->element[1]->type != REDIS_REPLY_INTEGER) {
    return Malformed("a node that is not [ip, port, ...]");
  }
  std::string host(entry->element[0]->str, entry->element[0]->len);
  if (host.empty() || host == "?") host = asked.host;
  const long long port = entry->element[1]->integer;
  if (port <= 0 || port > 65535) return Malformed("a node port out of range");
  return NodeAddress{.host = std::move(host), .port = static_cast<int>(port)};
}

}  // namespace

absl::StatusOr<ClusterTopology> ParseClusterSlots(const redisReply* reply,
                                                  const NodeAddress& asked) {
  if (reply == nullptr) return absl::UnavailableError("no answer to CLUSTER SLOTS");
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("CLUSTER SLOTS: ", absl::string_view(reply->str, reply->len)));
  }
  if (reply->type != REDIS_REPLY_ARRAY) return Malformed("something other than an array");
  ClusterTopology topology{.owner = std::vector<int>(kSlots, -1)};
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
        range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER) {
      return Malformed("a range that is not [start, end, primary, ...]");
    }
    const long long start = range->element[0]->integer;
    const long long end = range->element[1]->integer;
    if (start < 0 || end >= kSlots || start > end) return Malformed("a slot range out of bounds");
    absl::StatusOr<NodeAddress> primary = NodeOf(range->element[2], asked);
    if (!primary.ok()) return primary.status();
    int index = 0;
    while (index < static_cast<int>(topology.primaries.size()) &&
           !(topology.primaries[index] == *primary)) {
      ++index;
    }
    if (index == static_cast<int>(topology.primaries.size())) {
      topology.primaries.push_back(*primary);
    }
    for (long long slot = start; slot <= end; ++slot) topology.owner[slot] = index;
  }
  return topology;
}

absl::StatusOr<ClusterTopology> FetchTopology(const ConnectionOptions& options,
                                              const NodeAddress& node) {
  ConnectionOptions at = options;
  at.host = node.host;
  at.port = node.port;
  absl::StatusOr<BlockingContext> context = ConnectNow(at);
  if (!context.ok()) return context.status();
  const OwnedReply reply = CommandNow(context->get(), "CLUSTER SLOTS");
  if (reply == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(node.ToString(), " did not answer CLUSTER SLOTS: ", (*context)->errstr));
  }
  return ParseClusterSlots(reply.get(), node);
}

std::optional<NodeAddress> ParseNodeAddress(absl::string_view text) {
  const size_t colon = text.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return std::nullopt;
  }
  return NodeAddress{.host = std::string(text.substr(0, colon)), .port = port};
}

std::optional<Redirect> ParseRedirect(absl::string_view error) {
  const std::vector<absl::string_view> words = absl::StrSplit(error, ' ');
  if (words.size() != 3 || (words[0] != "MOVED" && words[0] != "ASK")) return std::nullopt;
  Redirect redirect{.ask = words[0] == "ASK"};
  if (!absl::SimpleAtoi(words[1], &redirect.slot) || redirect.slot < 0 || redirect.slot >= kSlots) {
    return std::nullopt;
  }
  std::optional<NodeAddress> node = ParseNodeAddress(words[2]);
  if (!node.has_value()) return std::nullopt;
  redirect.node = std::move(*node);
  return redirect;
}

}  // namespace sendgate::store
