// The current policy snapshot, shared by every request and swapped whole on reload: a request
// keeps the snapshot it started with, so a reload never changes a decision half-way. One for
// the pressure policy (and shadow mode's candidate), one for the authorization policy.
#pragma once

#include <atomic>
#include <memory>

#include "service/core/policy.h"
#include "service/policy/authz.h"

namespace sendgate::api {

template <typename Policy>
class SnapshotHolder {
 public:
  explicit SnapshotHolder(std::shared_ptr<const Policy> policy) : current_(std::move(policy)) {}

  std::shared_ptr<const Policy> Current() const {
    return current_.load(std::memory_order_acquire);
  }
  void Replace(std::shared_ptr<const Policy> policy) {
    current_.store(std::move(policy), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const Policy>> current_;
};

using PolicyHolder = SnapshotHolder<core::Policy>;
using AuthzHolder = SnapshotHolder<policy::AuthzPolicy>;

}  // namespace sendgate::api
