#include "loadtest/histogram.h"

#include <algorithm>

namespace sendgate::loadtest {

LatencyHistogram::LatencyHistogram() : counts_(new std::atomic<uint64_t>[kBuckets]) {
  for (int i = 0; i < kBuckets; ++i) counts_[i].store(0, std::memory_order_relaxed);
}

// Values below 2^(kSubBits+1) have a bucket each; above, each power of two is split in 2^kSubBits.
int LatencyHistogram::IndexOf(uint64_t value) {
  constexpr uint64_t kLinear = uint64_t{1} << (kSubBits + 1);
  if (value < kLinear) return static_cast<int>(value);
  const int exponent = 63 - __builtin_clzll(value);
  const int shift = exponent - kSubBits;
  const int index = (shift << kSubBits) + static_cast<int>(value >> shift);
  return std::min(index, kBuckets - 1);
}

uint64_t LatencyHistogram::UpperEdge(int index) {
  constexpr int kLinear = 1 << (kSubBits + 1);
  if (index < kLinear) return static_cast<uint64_t>(index);
  const int shift = (index >> kSubBits) - 1;
  const uint64_t sub = static_cast<uint64_t>(index - (shift << kSubBits));
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(int64_t nanoseconds) {
  const uint64_t value = nanoseconds < 0 ? 0 : static_cast<uint64_t>(nanoseconds);
  counts_[IndexOf(value)].fetch_add(1, std::memory_order_relaxed);
  total_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (static_cast<int64_t>(value) > seen &&
         !max_.compare_exchange_weak(seen, static_cast<int64_t>(value))) {
  }
}

uint64_t LatencyHistogram::count() const { return total_.load(std::memory_order_relaxed); }

int64_t LatencyHistogram::Quantile(double q) const {
  const uint64_t total = count();
  if (total == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(q * static_cast<double>(total) + 0.5));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min<int64_t>(static_cast<int64_t>(UpperEdge(i)), Max());
  }
  return Max();
}

int64_t LatencyHistogram::Max() const { return max_.load(std::memory_order_relaxed); }

double LatencyHistogram::Mean() const {
  const uint64_t total = count();
  return total == 0 ? 0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / total;
}

}  // namespace sendgate::loadtest
