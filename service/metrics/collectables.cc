#include "service/metrics/collectables.h"

#include <algorithm>
#include <limits>

namespace sendgate::metrics {

LatencyCell::LatencyCell(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void LatencyCell::Observe(double seconds) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + seconds, std::memory_order_relaxed)) {
  }
}

prometheus::ClientMetric::Histogram LatencyCell::Read() const {
  prometheus::ClientMetric::Histogram histogram;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    histogram.bucket.push_back(
        {.cumulative_count = cumulative,
         .upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity()});
  }
  histogram.sample_count = cumulative;
  histogram.sample_sum = sum_.load(std::memory_order_relaxed);
  return histogram;
}

LatencyHistogram::LatencyHistogram(std::string name, std::string help,
                                   std::vector<std::string> label_names,
                                   std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

LatencyCell& LatencyHistogram::With(const std::vector<std::string>& label_values) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::unique_ptr<LatencyCell>& cell = cells_[label_values];
  if (!cell) cell = std::make_unique<LatencyCell>(bounds_);
  return *cell;
}

std::vector<prometheus::MetricFamily> LatencyHistogram::Collect() const {
  prometheus::MetricFamily family{.name = name_, .help = help_,
                                  .type = prometheus::MetricType::Histogram};
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, cell] : cells_) {
    prometheus::ClientMetric& metric = family.metric.emplace_back();
    for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
      metric.label.push_back({label_names_[i], values[i]});
    }
    metric.histogram = cell->Read();
  }
  return {std::move(family)};
}

std::vector<prometheus::MetricFamily> ScrapeGauge::Collect() const {
  prometheus::MetricFamily family{.name = name_, .help = help_,
                                  .type = prometheus::MetricType::Gauge};
  family.metric.emplace_back().gauge.value = read_ ? read_() : 0;
  return {std::move(family)};
}

}  // namespace sendgate::metrics
