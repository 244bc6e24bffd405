// A circuit breaker for one Redis node, shared by that node's connections. A node that lets
// `timeouts_to_open` calls in a row pass their deadline unanswered is shunned: its calls fail
// at once (the fail mode answers) instead of each waiting for its deadline. Every `open_for`
// one call is let through as a trial; an answer in time closes the breaker, another timeout
// keeps it open. A node that is down needs no breaker (its connection is known down and fails
// calls at once); this is for a node that still answers, but too slowly to be of use.
// Thread-safe and lock-free: calls are admitted on any thread, outcomes come from the node's
// connection loops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace sendgate::store {

struct BreakerOptions {
  int timeouts_to_open = 5;  // 0: the breaker never opens
  absl::Duration open_for = absl::Milliseconds(500);
  // A call given less time than this by its caller proves nothing of the node when it times
  // out (a healthy Redis answers within a millisecond or two): it neither counts nor breaks a
  // run. So a caller with very short deadlines cannot open the breaker for everyone.
  absl::Duration shortest_counted = absl::Milliseconds(20);
};

class CircuitBreaker {
 public:
  // `on_change(true)` when the breaker opens, `on_change(false)` when it closes again.
  CircuitBreaker(BreakerOptions options, std::function<void(bool open)> on_change);

  // Whether a call may go to the node at `now`. When open, one call per `open_for` may: the
  // trial. False: answer the call at once.
  bool Admit(absl::Time now);
  // Admit() for a closed breaker, without reading the clock (the common case).
  bool closed() const { return open_until_.load(std::memory_order_relaxed) == kClosed; }

  // A call admitted earlier was answered by the node before its deadline.
  void AnsweredInTime();
  // A call admitted earlier, given at least `shortest_counted`, passed its deadline unanswered.
  void TimedOut(absl::Time now);
  const BreakerOptions& options() const { return options_; }

 private:
  static constexpr int64_t kClosed = 0;

  const BreakerOptions options_;
  const std::function<void(bool open)> on_change_;
  std::atomic<int> timeouts_in_a_row_{0};
  // kClosed, or when the next trial may go (nanoseconds since the Unix epoch).
  std::atomic<int64_t> open_until_{kClosed};
};

}  // namespace sendgate::store
