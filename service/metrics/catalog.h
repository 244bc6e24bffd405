// Every metric sendgate exports, declared once: names, help and label names live in
// catalog.cc and docs/operations.md lists them. Built on prometheus-cpp (its registry, families
// and text serializer); components take the families from here and resolve the labelled
// children they need once, so that the hot path only increments.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "service/metrics/collectables.h"

namespace sendgate::metrics {

// A prometheus-cpp family with its label names declared once: children by label values, in
// that order. With() takes the family's lock: resolve children once, then keep them.
template <typename Metric>
class Labelled {
 public:
  Labelled(prometheus::Family<Metric>& family, std::vector<std::string> names)
      : family_(family), names_(std::move(names)) {}

  Metric& With(const std::vector<std::string>& values) {
    prometheus::Labels labels;
    for (size_t i = 0; i < names_.size() && i < values.size(); ++i) labels[names_[i]] = values[i];
    return family_.Add(labels);
  }

 private:
  prometheus::Family<Metric>& family_;
  const std::vector<std::string> names_;
};

class Catalog {
 public:
  Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Every metric in the Prometheus text exposition format.
  std::string Exposition() const;
  // The name of every family, those with no sample yet included (the exposition leaves them
  // out): what dashboards and alerts may query.
  std::vector<std::string> FamilyNames() const;

 private:
  std::vector<prometheus::MetricFamily> Collect() const;

  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::string> registered_names_;
  std::shared_ptr<LatencyHistogram> decision_seconds_;
  std::shared_ptr<LatencyHistogram> store_call_seconds_;
  std::shared_ptr<ScrapeGauge> store_up_;
  std::shared_ptr<ScrapeGauge> calls_in_progress_;

 public:
  Labelled<prometheus::Counter> decisions;                 // {outcome, channel, category}
  Labelled<prometheus::Counter> reasons;                   // {code, rule}
  Labelled<prometheus::Counter> replays;                   // {outcome}
  Labelled<prometheus::Counter> degraded;                  // {outcome, category}
  LatencyHistogram& decision_seconds;                      // {method}
  LatencyCell& store_call_seconds;                         // Redis round trips
  Labelled<prometheus::Counter> rpcs;                      // {method, code}
  Labelled<prometheus::Counter> invalid_requests;          // {method, field}
  Labelled<prometheus::Counter> store_errors;              // {kind}
  Labelled<prometheus::Counter> store_connection_changes;  // {state}
  Labelled<prometheus::Counter> store_library_reloads;     // {}
  Labelled<prometheus::Counter> store_redirections;        // {kind}
  Labelled<prometheus::Counter> store_circuit_changes;     // {state}
  Labelled<prometheus::Counter> feed_entries_lost;         // {}
  ScrapeGauge& store_up;                                   // read from the store
  ScrapeGauge& calls_in_progress;                          // read from the admission gate
  Labelled<prometheus::Counter> cancels;                   // {result}
  Labelled<prometheus::Counter> preference_updates;        // {method, result}
  Labelled<prometheus::Counter> forgets;                   // {result}
  Labelled<prometheus::Gauge> policy_info;                 // {version}
  Labelled<prometheus::Counter> policy_reloads;            // {result}
  Labelled<prometheus::Gauge> policy_last_reload_successful;  // {}
  Labelled<prometheus::Gauge> authz_policy_last_reload_successful;  // {}
  Labelled<prometheus::Counter> shadow_decisions;    // {result}
  Labelled<prometheus::Counter> shadow_differences;  // {active, shadow, rule}
  Labelled<prometheus::Gauge> shadow_policy_info;    // {version}
};

}  // namespace sendgate::metrics
