// Every metric sendgate exports, declared once: names, help and labels live in catalog.cc and
// docs/operations.md lists them. Components get the families from here.
#pragma once

#include "service/metrics/registry.h"

namespace sendgate::metrics {

struct Catalog {
  explicit Catalog(Registry& registry);

  Family<Counter>& decisions;         // {outcome, channel, category}
  Family<Counter>& reasons;           // {code, rule}
  Family<Counter>& replays;           // {outcome}
  Family<Counter>& degraded;          // {outcome, category}
  Family<Histogram>& decision_seconds;  // {method}
  Family<Counter>& rpcs;              // {method, code}
  Family<Counter>& invalid_requests;  // {method, field}
  Family<Counter>& store_errors;      // {kind}
  Family<Counter>& store_connection_changes;  // {state}
  Family<Counter>& store_noscript;    // {}
  Family<Counter>& cancels;           // {result}
  Family<Gauge>& policy_info;         // {version}
  Family<Counter>& policy_reloads;    // {result}
};

}  // namespace sendgate::metrics
