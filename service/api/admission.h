// Which calls sendgate still takes: every one until it starts draining (SIGTERM), then none,
// while the calls already in progress finish. It also counts the calls in progress, for the
// drain and for metrics. Lock-free: two atomic operations per call.
#pragma once

#include <atomic>
#include <cstdint>

namespace sendgate::api {

class Admission {
 public:
  // False once draining: the caller refuses the call with UNAVAILABLE, which clients retry
  // (on another replica). A true answer must be matched by one Leave().
  bool Enter() {
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
    if (!draining_.load(std::memory_order_acquire)) return true;
    Leave();
    return false;
  }
  void Leave() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  void StartDraining() { draining_.store(true, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace sendgate::api
