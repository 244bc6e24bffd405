// The two kinds of metric prometheus-cpp 1.0.1 does not offer as sendgate needs them, written
// as prometheus-cpp Collectables so that its registry model and text serializer render them:
// - LatencyHistogram: observed on the hot path without a lock (prometheus::Histogram::Observe
//   takes a mutex on every observation in 1.0.1);
// - ScrapeGauge: a gauge read when Prometheus scrapes (prometheus-cpp has no callback gauge).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace sendgate::metrics {

// One histogram series: fixed upper bounds, lock-free observations (relaxed atomics).
class LatencyCell {
 public:
  explicit LatencyCell(const std::vector<double>& bounds);
  void Observe(double seconds);
  prometheus::ClientMetric::Histogram Read() const;

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bound, then +Inf
  std::atomic<double> sum_{0};
};

// A histogram family: series are created by With() (a lock; resolve them once), observed
// without one.
class LatencyHistogram final : public prometheus::Collectable {
 public:
  LatencyHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                   std::vector<double> bounds);
  LatencyCell& With(const std::vector<std::string>& label_values);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<LatencyCell>> cells_;
};

// A gauge without labels whose value is read at each scrape, from the source given once the
// component it watches exists (before the monitoring port serves). Without one it shows 0.
class ScrapeGauge final : public prometheus::Collectable {
 public:
  ScrapeGauge(std::string name, std::string help)
      : name_(std::move(name)), help_(std::move(help)) {}
  void ReadFrom(std::function<double()> read) { read_ = std::move(read); }
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string name_;
  const std::string help_;
  std::function<double()> read_;
};

}  // namespace sendgate::metrics
