// Which calls sendgate takes: every one until it starts draining (SIGTERM), then none, while
// the calls already in progress finish; and with an authorization policy (--authz_policy_file)
// only those it allows the caller. It also counts the calls in progress, for the drain and for
// metrics. Without a policy: two atomic operations per call.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "grpcpp/grpcpp.h"
#include "service/api/decision_metrics.h"
#include "service/api/policy_holder.h"

namespace sendgate::api {

class Admission {
 public:
  // `authz` null: every caller may call every RPC (and callers have no name).
  explicit Admission(const AuthzHolder* authz = nullptr) : authz_(authz) {}

  // False once draining: the caller refuses the call with UNAVAILABLE, which clients retry
  // (on another replica). A true answer must be matched by one Leave().
  bool Enter() {
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
    if (!draining_.load(std::memory_order_acquire)) return true;
    Leave();
    return false;
  }
  void Leave() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  // Enter(), then the authorization policy's verdict on this caller calling `method`: OK,
  // with the name of the allow rule that lets it in as `caller` ("" without a policy), to be
  // matched by one Leave(); else nothing to Leave: UNAVAILABLE while draining,
  // PERMISSION_DENIED when the policy does not allow it.
  grpc::Status Admit(const grpc::CallbackServerContext& context, Method method,
                     std::string& caller);

  void StartDraining() { draining_.store(true, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }

 private:
  const AuthzHolder* const authz_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
};

// The answer to a call that arrives while sendgate drains: clients retry UNAVAILABLE.
inline grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "sendgate is shutting down; retry (another replica will answer)");
}

}  // namespace sendgate::api
