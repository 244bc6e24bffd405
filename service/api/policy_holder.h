// The current policy snapshot, shared by every request and swapped whole on reload: a request
// keeps the snapshot it started with, so a reload never changes a decision half-way.
#pragma once

#include <atomic>
#include <memory>

#include "service/core/policy.h"

namespace sendgate::api {

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const core::Policy> policy) : current_(std::move(policy)) {}

  std::shared_ptr<const core::Policy> Current() const {
    return current_.load(std::memory_order_acquire);
  }
  void Replace(std::shared_ptr<const core::Policy> policy) {
    current_.store(std::move(policy), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const core::Policy>> current_;
};

}  // namespace sendgate::api
