#include "service/store/cluster_router.h"

#include <hiredis/hiredis.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/metrics/log.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

using metrics::Log;
using metrics::Severity;

bool IsRefusal(absl::string_view error) {
  return absl::StartsWith(error, "TRYAGAIN") || absl::StartsWith(error, "CLUSTERDOWN");
}

}  // namespace

ClusterRouter::ClusterRouter(ClusterRouterOptions options) : options_(std::move(options)) {
  if (!Refresh()) {
    Log(Severity::kWarning, "store",
        "no Redis Cluster node answered CLUSTER SLOTS; retrying (fail modes answer until one "
        "does)");
  }
  worker_ = std::thread([this] { Work(); });
}

ClusterRouter::~ClusterRouter() {
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  worker_.join();
  closing_.store(true);
  for (auto& [due, call] : retries_) {
    call->done(StoreError(StoreErrorKind::kUnavailable, "sendgate is shutting down"));
  }
  retries_.clear();
  std::lock_guard<std::mutex> lock(nodes_mutex_);
  nodes_.clear();  // the connections answer what still waits, with closing_ set
}

void ClusterRouter::Send(int slot, uint64_t spread, std::string wire, bool function_call,
                         absl::Time deadline, Callback done, int replicas) {
  if (closing_.load(std::memory_order_relaxed)) {  // a callback's follow-up, while shutting down
    return done(StoreError(StoreErrorKind::kUnavailable, "sendgate is shutting down"));
  }
  Dispatch(std::make_unique<Call>(Call{.slot = slot,
                                       .spread = spread,
                                       .wire = std::move(wire),
                                       .function_call = function_call,
                                       .deadline = deadline,
                                       .done = std::move(done),
                                       .replicas = replicas}));
}

void ClusterRouter::Dispatch(std::unique_ptr<Call> call) {
  Node* ask = call->ask;
  call->ask = nullptr;
  Node* node = ask != nullptr ? ask : owner_[call->slot].load(std::memory_order_acquire);
  if (node == nullptr) {
    RequestRefresh();
    return call->done(StoreError(StoreErrorKind::kUnavailable,
                                 absl::StrCat("no Redis Cluster node serves slot ", call->slot)));
  }
  RedisConnection& connection = node->connections->For(call->spread, call->replicas);
  std::string wire = call->wire;  // kept in `call`, to send again after a redirection
  const bool function_call = call->function_call;
  const absl::Time deadline = call->deadline;
  const int replicas = call->replicas;
  auto reply = [this, call = std::move(call)](absl::StatusOr<const redisReply*> reply) mutable {
    OnReply(std::move(call), reply);
  };
  if (ask != nullptr) {
    connection.SendAsking(std::move(wire), function_call, deadline, std::move(reply), replicas);
  } else if (function_call) {
    connection.SendFcall(std::move(wire), deadline, std::move(reply), replicas);
  } else {
    connection.Send(std::move(wire), deadline, std::move(reply));
  }
}

void ClusterRouter::OnReply(std::unique_ptr<Call> call, absl::StatusOr<const redisReply*> reply) {
  if (closing_.load(std::memory_order_relaxed)) return call->done(reply);
  if (!reply.ok()) {
    if (KindOf(reply.status()) == StoreErrorKind::kUnavailable) RequestRefresh();
    return call->done(reply);
  }
  if ((*reply)->type == REDIS_REPLY_ERROR && Redirected(call, *reply)) return;
  call->done(reply);
}

bool ClusterRouter::Redirected(std::unique_ptr<Call>& call, const redisReply* reply) {
  const absl::string_view error(reply->str, reply->len);
  if (call->redirects >= options_.max_redirects) return false;
  if (IsRefusal(error)) {
    if (absl::Now() + options_.retry_after >= call->deadline) return false;
    ++call->redirects;
    Report("retry");
    RetryLater(std::move(call));
    return true;
  }
  const std::optional<Redirect> redirect = ParseRedirect(error);
  if (!redirect.has_value()) return false;
  ++call->redirects;
  Report(redirect->ask ? "ask" : "moved");
  Node* node = NodeAt(redirect->node);
  if (redirect->ask) {
    call->ask = node;
  } else {
    owner_[redirect->slot].store(node, std::memory_order_release);
    RequestRefresh();
  }
  Dispatch(std::move(call));
  return true;
}

void ClusterRouter::Report(absl::string_view redirect_kind) const {
  if (options_.events.on_redirect) options_.events.on_redirect(redirect_kind);
}

void ClusterRouter::RetryLater(std::unique_ptr<Call> call) {
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    if (!stopping_ && retries_.size() < options_.max_waiting_retries) {
      retries_.emplace(absl::Now() + options_.retry_after, std::move(call));
    }
  }
  if (call != nullptr) {
    return call->done(StoreError(StoreErrorKind::kOverloaded,
                                 "too many commands wait for the Redis Cluster to settle"));
  }
  work_.notify_all();
}

ClusterRouter::Node* ClusterRouter::NodeAt(const NodeAddress& address) {
  std::lock_guard<std::mutex> lock(nodes_mutex_);
  for (const auto& node : nodes_) {
    if (node->address == address) {
      node->needed_at = absl::Now();
      return node.get();
    }
  }
  auto node = std::make_unique<Node>(Node{.address = address, .needed_at = absl::Now()});
  ConnectionOptions options = options_.connection;
  options.host = address.host;
  options.port = address.port;
  node->connections = std::make_unique<NodeConnections>(
      options, options_.events, options_.connections_per_node, options_.connection_for_waits);
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

bool ClusterRouter::Refresh() {
  // The primaries known first (they know the cluster best), those that answer before the
  // others, then the seeds.
  std::vector<NodeAddress> candidates, later;
  for (const Node* node : Serving()) {
    (node->connections->answering() ? candidates : later).push_back(node->address);
  }
  candidates.insert(candidates.end(), later.begin(), later.end());
  candidates.insert(candidates.end(), options_.seeds.begin(), options_.seeds.end());
  absl::Status last;
  for (const NodeAddress& candidate : candidates) {
    absl::StatusOr<ClusterTopology> topology = FetchTopology(options_.connection, candidate);
    if (topology.ok()) {
      Apply(*topology);
      return true;
    }
    last = topology.status();
  }
  static metrics::EveryFewSeconds throttle(5);
  if (throttle.Due()) {
    Log(Severity::kWarning, "store",
        absl::StrCat("Redis Cluster topology refresh failed: ", last.message()));
  }
  return false;
}

void ClusterRouter::Apply(const ClusterTopology& topology) {
  std::vector<Node*> primaries;
  for (const NodeAddress& address : topology.primaries) primaries.push_back(NodeAt(address));
  for (int slot = 0; slot < kSlots; ++slot) {
    const int index = topology.owner[slot];
    owner_[slot].store(index < 0 ? nullptr : primaries[index], std::memory_order_release);
  }
  RetireIdleNodes();
}

void ClusterRouter::RetireIdleNodes() {
  const std::set<const Node*> serving = Serving();
  const absl::Time now = absl::Now();
  std::vector<std::unique_ptr<Node>> retired;
  {
    std::lock_guard<std::mutex> lock(nodes_mutex_);
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      if (serving.count(it->get()) > 0) (*it)->needed_at = now;
      if (now - (*it)->needed_at < options_.retire_after) {
        ++it;
        continue;
      }
      retired.push_back(std::move(*it));
      it = nodes_.erase(it);
    }
  }
  for (const auto& node : retired) {
    Log(Severity::kInfo, "store",
        absl::StrCat("Redis Cluster node ", node->address.ToString(), " has served no slot for ",
                     absl::FormatDuration(options_.retire_after), ": its connections are closed"));
  }
  // Destroyed here, outside the lock: their connections answer what still waits, and those
  // answers may lead to another Dispatch.
}

void ClusterRouter::RequestRefresh() {
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    if (refresh_requested_) return;
    refresh_requested_ = true;
  }
  work_.notify_all();
}

void ClusterRouter::Work() {
  absl::Time last_refresh = absl::Now();
  std::unique_lock<std::mutex> lock(work_mutex_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    std::vector<std::unique_ptr<Call>> due;
    while (!retries_.empty() && retries_.begin()->first <= now) {
      due.push_back(std::move(retries_.begin()->second));
      retries_.erase(retries_.begin());
    }
    const bool refresh =
        now >= last_refresh + options_.refresh_every ||
        (refresh_requested_ && now >= last_refresh + options_.refresh_at_most_every);
    if (!due.empty() || refresh) {
      if (refresh) refresh_requested_ = false;
      lock.unlock();
      for (auto& call : due) Dispatch(std::move(call));
      if (refresh) {
        Refresh();
        last_refresh = absl::Now();
      }
      lock.lock();
      continue;
    }
    absl::Time wake = last_refresh + (refresh_requested_ ? options_.refresh_at_most_every
                                                         : options_.refresh_every);
    if (!retries_.empty()) wake = std::min(wake, retries_.begin()->first);
    work_.wait_for(lock, absl::ToChronoNanoseconds(std::max(wake - now, absl::ZeroDuration())));
  }
}

std::set<const ClusterRouter::Node*> ClusterRouter::Serving() const {
  std::set<const Node*> serving;
  for (const auto& owner : owner_) {
    if (const Node* node = owner.load(std::memory_order_acquire)) serving.insert(node);
  }
  return serving;
}

bool ClusterRouter::healthy() const {
  for (const auto& owner : owner_) {
    if (owner.load(std::memory_order_acquire) == nullptr) return false;
  }
  for (const Node* node : Serving()) {
    if (!node->connections->connected()) return false;
  }
  return true;
}

std::vector<NodeAddress> ClusterRouter::nodes() const {
  std::lock_guard<std::mutex> lock(nodes_mutex_);
  std::vector<NodeAddress> addresses;
  for (const auto& node : nodes_) addresses.push_back(node->address);
  return addresses;
}

}  // namespace sendgate::store
