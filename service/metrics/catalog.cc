#include "service/metrics/catalog.h"

namespace sendgate::metrics {

Catalog::Catalog(Registry& registry)
    : decisions(registry.AddCounter("sendgate_decisions_total",
                                    "Decisions made, by outcome, channel and category.",
                                    {"outcome", "channel", "category"})),
      reasons(registry.AddCounter("sendgate_decision_reasons_total",
                                  "Reasons given in decisions, by reason code and rule id.",
                                  {"code", "rule"})),
      replays(registry.AddCounter("sendgate_decision_replays_total",
                                  "Decisions answered from the first decision of a known "
                                  "message_id, by outcome.",
                                  {"outcome"})),
      degraded(registry.AddCounter("sendgate_degraded_decisions_total",
                                   "Decisions made by the fail mode because Redis did not answer "
                                   "in time, by outcome and category.",
                                   {"outcome", "category"})),
      decision_seconds(registry.AddHistogram(
          "sendgate_decision_duration_seconds",
          "Time from a request's arrival to its decision, by gRPC method.", {"method"},
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1})),
      rpcs(registry.AddCounter("sendgate_grpc_requests_total",
                               "gRPC calls finished, by method and status code.",
                               {"method", "code"})),
      invalid_requests(registry.AddCounter("sendgate_invalid_requests_total",
                                           "Requests refused as invalid, by method and field.",
                                           {"method", "field"})),
      store_errors(registry.AddCounter(
          "sendgate_store_errors_total",
          "Store calls that failed, by kind (unavailable, timeout, overloaded, out_of_memory, "
          "redirected, redis_error, malformed_reply, corrupt_history).",
          {"kind"})),
      store_connection_changes(registry.AddCounter(
          "sendgate_store_connection_changes_total",
          "Redis connections established (up) and lost (down).", {"state"})),
      store_noscript(registry.AddCounter(
          "sendgate_store_noscript_total",
          "Script calls Redis answered NOSCRIPT (script cache flushed), sent again as EVAL.")),
      cancels(registry.AddCounter("sendgate_cancels_total",
                                  "Cancel calls, by result (cancelled, not_found).", {"result"})),
      policy_info(registry.AddGauge("sendgate_policy_info",
                                    "1 for the policy version in force, 0 for earlier ones.",
                                    {"version"})),
      policy_reloads(registry.AddCounter("sendgate_policy_reloads_total",
                                         "Policy reloads, by result (ok, rejected).",
                                         {"result"})) {}

}  // namespace sendgate::metrics
