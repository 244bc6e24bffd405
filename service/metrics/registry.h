// A small Prometheus metrics registry (prometheus-cpp is not packaged in bookworm): families of
// counters, gauges and histograms with labels, rendered in the text exposition format 0.0.4.
// Hot path: look a labelled child up once (With() takes a lock) and keep the reference;
// updates are then lock-free atomics. Children are never removed, so references stay valid.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

namespace sendgate::metrics {

class Counter {
 public:
  void Increment(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (seconds, bytes ...), ascending; +Inf is implied.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bound, then +Inf
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

class FamilyBase {
 public:
  FamilyBase(MetricType type, std::string name, std::string help,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  void Render(std::string& out) const;

 protected:
  virtual void RenderChildren(std::string& out) const = 0;
  // `name{labels} value` lines; `extra` is one more label ("le" of a bucket) or empty.
  void RenderSample(std::string& out, absl::string_view suffix,
                    const std::vector<std::string>& values, absl::string_view extra_name,
                    absl::string_view extra_value, double value) const;

  const MetricType type_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

template <typename Metric>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(MetricType type, std::string name, std::string help,
         std::vector<std::string> label_names, Factory factory)
      : FamilyBase(type, std::move(name), std::move(help), std::move(label_names)),
        factory_(std::move(factory)) {}

  // The child with these label values (in label-name order), created on first use.
  Metric& With(const std::vector<std::string>& label_values) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<Metric>& child = children_[label_values];
    if (!child) child = factory_();
    return *child;
  }

 private:
  void RenderChildren(std::string& out) const override;

  Factory factory_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

template <>
void Family<Counter>::RenderChildren(std::string& out) const;
template <>
void Family<Gauge>::RenderChildren(std::string& out) const;
template <>
void Family<Histogram>::RenderChildren(std::string& out) const;

class Registry {
 public:
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds);
  // A gauge whose value is read when scraped.
  void AddGaugeFunction(std::string name, std::string help, std::function<double()> read);

  // Every family in the text exposition format, in registration order.
  std::string Exposition() const;

 private:
  template <typename Metric>
  Family<Metric>& Add(std::unique_ptr<Family<Metric>> family);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

}  // namespace sendgate::metrics
