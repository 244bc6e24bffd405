// An HDR-style latency histogram: log-linear buckets with 512 steps per power of two (0.2%
// resolution) from 1 ns to ~18 minutes. Recording is one relaxed atomic increment, safe from any
// thread; percentiles are read after the run.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace sendgate::loadtest {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(int64_t nanoseconds);
  uint64_t count() const;
  // The value at quantile `q` (0..1], as the upper edge of its bucket; 0 when empty.
  int64_t Quantile(double q) const;
  int64_t Max() const;
  double Mean() const;

 private:
  static constexpr int kSubBits = 9;
  static constexpr int kBuckets = (40 - kSubBits + 2) << kSubBits;
  static int IndexOf(uint64_t value);
  static uint64_t UpperEdge(int index);

  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

}  // namespace sendgate::loadtest
