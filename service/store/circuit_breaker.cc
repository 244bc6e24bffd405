#include "service/store/circuit_breaker.h"

#include <utility>

namespace sendgate::store {
namespace {

int64_t Nanos(absl::Time time) { return absl::ToUnixNanos(time); }

}  // namespace

CircuitBreaker::CircuitBreaker(BreakerOptions options, std::function<void(bool open)> on_change)
    : options_(options), on_change_(std::move(on_change)) {}

bool CircuitBreaker::Admit(absl::Time now) {
  int64_t until = open_until_.load(std::memory_order_relaxed);
  if (until == kClosed) return true;
  if (Nanos(now) < until) return false;
  // The trial: the first caller past `until` moves it on, and only that caller goes.
  return open_until_.compare_exchange_strong(until, Nanos(now + options_.open_for),
                                             std::memory_order_relaxed);
}

void CircuitBreaker::AnsweredInTime() {
  // Read before written: the node's connections answer on several threads, and a line they
  // only read is not passed between their cores on every reply.
  if (timeouts_in_a_row_.load(std::memory_order_relaxed) != 0) {
    timeouts_in_a_row_.store(0, std::memory_order_relaxed);
  }
  if (open_until_.load(std::memory_order_relaxed) == kClosed) return;
  if (open_until_.exchange(kClosed, std::memory_order_relaxed) != kClosed && on_change_) {
    on_change_(false);
  }
}

void CircuitBreaker::TimedOut(absl::Time now) {
  const int in_a_row = timeouts_in_a_row_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.timeouts_to_open <= 0) return;
  int64_t until = open_until_.load(std::memory_order_relaxed);
  const int64_t next_trial = Nanos(now + options_.open_for);
  if (until != kClosed) {
    // Open already (a trial, or a call sent before it opened, timed out): the next trial
    // waits a full `open_for` from now.
    while (until != kClosed && until < next_trial &&
           !open_until_.compare_exchange_weak(until, next_trial, std::memory_order_relaxed)) {
    }
    return;
  }
  if (in_a_row < options_.timeouts_to_open) return;
  if (open_until_.compare_exchange_strong(until, next_trial, std::memory_order_relaxed) &&
      on_change_) {
    on_change_(true);
  }
}

}  // namespace sendgate::store
