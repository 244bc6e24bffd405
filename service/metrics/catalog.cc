#include "service/metrics/catalog.h"

#include <algorithm>

#include "prometheus/text_serializer.h"

namespace sendgate::metrics {
namespace {

// A registry that remembers the names it was given: a family with no child yet is left out of
// Collect(), and dashboards may still query it.
struct NamedRegistry {
  prometheus::Registry& registry;
  std::vector<std::string>& names;
};

Labelled<prometheus::Counter> Counter(NamedRegistry registry, const std::string& name,
                                      const std::string& help, std::vector<std::string> labels) {
  registry.names.push_back(name);
  return {prometheus::BuildCounter().Name(name).Help(help).Register(registry.registry),
          std::move(labels)};
}

Labelled<prometheus::Gauge> Gauge(NamedRegistry registry, const std::string& name,
                                  const std::string& help, std::vector<std::string> labels) {
  registry.names.push_back(name);
  return {prometheus::BuildGauge().Name(name).Help(help).Register(registry.registry),
          std::move(labels)};
}

}  // namespace

Catalog::Catalog()
    : registry_(std::make_shared<prometheus::Registry>()),
      decision_seconds_(std::make_shared<LatencyHistogram>(
          "sendgate_decision_duration_seconds",
          "Time from a request's arrival to its decision, by gRPC method.",
          std::vector<std::string>{"method"},
          std::vector<double>{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                              0.25, 0.5, 1})),
      store_call_seconds_(std::make_shared<LatencyHistogram>(
          "sendgate_store_call_duration_seconds",
          "Time from writing a command to Redis to reading its reply (network and Redis's "
          "execution), for every command sendgate sends.",
          std::vector<std::string>{},
          std::vector<double>{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                              0.025, 0.05, 0.1, 0.25})),
      store_up_(std::make_shared<ScrapeGauge>(
          "sendgate_store_up", "1 when every Redis connection is established, else 0.")),
      calls_in_progress_(std::make_shared<ScrapeGauge>("sendgate_calls_in_progress",
                                                       "gRPC calls admitted and not finished.")),
      decisions(Counter(NamedRegistry{*registry_, registered_names_}, "sendgate_decisions_total",
                        "Decisions made, by outcome, channel and category.",
                        {"outcome", "channel", "category"})),
      reasons(Counter(NamedRegistry{*registry_, registered_names_},
                      "sendgate_decision_reasons_total",
                      "Reasons given in decisions, by reason code and rule id.", {"code", "rule"})),
      replays(Counter(NamedRegistry{*registry_, registered_names_},
                      "sendgate_decision_replays_total",
                      "Decisions answered from the first decision of a known message_id, by "
                      "outcome.",
                      {"outcome"})),
      degraded(Counter(NamedRegistry{*registry_, registered_names_},
                       "sendgate_degraded_decisions_total",
                       "Decisions made by the fail mode because the store could not answer, by "
                       "outcome and category.",
                       {"outcome", "category"})),
      decision_seconds(*decision_seconds_),
      store_call_seconds(store_call_seconds_->With({})),
      rpcs(Counter(NamedRegistry{*registry_, registered_names_}, "sendgate_grpc_requests_total",
                   "gRPC calls finished, by method and status code.", {"method", "code"})),
      invalid_requests(
          Counter(NamedRegistry{*registry_, registered_names_}, "sendgate_invalid_requests_total",
                  "Requests refused as invalid, by method and field.", {"method", "field"})),
      store_errors(Counter(NamedRegistry{*registry_, registered_names_},
                           "sendgate_store_errors_total",
                           "Store calls that failed, by kind (unavailable, timeout, overloaded, "
                           "out_of_memory, redirected, redis_error, malformed_reply, "
                           "corrupt_history, circuit_open).",
                           {"kind"})),
      store_connection_changes(Counter(
          NamedRegistry{*registry_, registered_names_}, "sendgate_store_connection_changes_total",
          "Redis connections established (up) and lost (down).", {"state"})),
      store_library_reloads(Counter(
          NamedRegistry{*registry_, registered_names_}, "sendgate_store_library_reloads_total",
          "Calls Redis answered 'Function not found' (a new or emptied Redis): the "
          "function library was loaded and the call sent again.",
          {})),
      store_redirections(Counter(
          NamedRegistry{*registry_, registered_names_}, "sendgate_store_redirections_total",
          "Redis Cluster: calls sent again, to the node a MOVED or an ASK named (moved, ask), "
          "or after a wait for a TRYAGAIN or a CLUSTERDOWN (retry).",
          {"kind"})),
      store_circuit_changes(Counter(
          NamedRegistry{*registry_, registered_names_}, "sendgate_store_circuit_changes_total",
          "Circuit breakers of Redis nodes opened (a node let calls in a row pass their "
          "deadline: its calls fail at once) and closed again (a trial call answered in time).",
          {"state"})),
      feed_entries_lost(Counter(
          NamedRegistry{*registry_, registered_names_}, "sendgate_feed_entries_lost_total",
          "Redis Cluster: change-feed entries not written (the change itself was written and is "
          "in the consent trail).",
          {})),
      store_up(*store_up_),
      calls_in_progress(*calls_in_progress_),
      cancels(Counter(NamedRegistry{*registry_, registered_names_}, "sendgate_cancels_total",
                      "Cancel calls, by result (cancelled, not_found).", {"result"})),
      preference_updates(Counter(NamedRegistry{*registry_, registered_names_},
                                 "sendgate_preference_updates_total",
                                 "Preference updates by method (Update, Import) and result "
                                 "(changed, unchanged, invalid, failed).",
                                 {"method", "result"})),
      forgets(Counter(NamedRegistry{*registry_, registered_names_}, "sendgate_forgets_total",
                      "Erasures (Forget) by result (erased, nothing_stored, failed).", {"result"})),
      policy_info(Gauge(NamedRegistry{*registry_, registered_names_}, "sendgate_policy_info",
                        "1 for the policy version in force, 0 for earlier ones.", {"version"})),
      policy_reloads(Counter(NamedRegistry{*registry_, registered_names_},
                             "sendgate_policy_reloads_total",
                             "Policy reloads, by result (ok, rejected).", {"result"})),
      policy_last_reload_successful(
          Gauge(NamedRegistry{*registry_, registered_names_},
                "sendgate_policy_last_reload_successful",
                "1 when the last policy load or reload succeeded, 0 while the policy file holds "
                "a policy that was refused (the previous one stays in force).",
                {})),
      authz_policy_last_reload_successful(
          Gauge(NamedRegistry{*registry_, registered_names_},
                "sendgate_authz_policy_last_reload_successful",
                "1 when the last load or reload of the authorization policy (--authz_policy_file) "
                "succeeded, 0 while its file holds one that was refused (the previous one stays "
                "in force).",
                {})),
      shadow_decisions(Counter(NamedRegistry{*registry_, registered_names_},
                               "sendgate_shadow_decisions_total",
                               "Shadow mode: decisions the candidate policy made beside the policy "
                               "in force, by result (same outcome, different outcome, "
                               "not_compared: the candidate would have needed another Redis call).",
                               {"result"})),
      shadow_differences(Counter(
          NamedRegistry{*registry_, registered_names_}, "sendgate_shadow_differences_total",
          "Shadow mode: decisions whose outcome the candidate policy would change, by the "
          "outcome in force, the candidate's, and the rule that holds the message (the "
          "candidate's when it does not allow it, else the one in force; a reason code when no "
          "cap).",
          {"active", "shadow", "rule"})),
      shadow_policy_info(Gauge(NamedRegistry{*registry_, registered_names_},
                               "sendgate_shadow_policy_info",
                               "1 for the candidate policy evaluated in shadow mode, 0 for "
                               "earlier ones.",
                               {"version"})) {
  for (const char* result : {"same", "different", "not_compared"}) shadow_decisions.With({result});
  // Shown at 0 from the start, so that rate() and increase() see the first event.
  store_library_reloads.With({});
  for (const char* kind : {"moved", "ask", "retry"}) store_redirections.With({kind});
  feed_entries_lost.With({});
  for (const char* state : {"open", "closed"}) store_circuit_changes.With({state});
  policy_reloads.With({"ok"});
  policy_reloads.With({"rejected"});
  policy_last_reload_successful.With({}).Set(1);
  authz_policy_last_reload_successful.With({}).Set(1);
}

std::vector<prometheus::MetricFamily> Catalog::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (const prometheus::Collectable* extra :
       {static_cast<const prometheus::Collectable*>(decision_seconds_.get()),
        static_cast<const prometheus::Collectable*>(store_call_seconds_.get()),
        static_cast<const prometheus::Collectable*>(store_up_.get()),
        static_cast<const prometheus::Collectable*>(calls_in_progress_.get())}) {
    for (prometheus::MetricFamily& family : extra->Collect()) families.push_back(std::move(family));
  }
  return families;
}

std::string Catalog::Exposition() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

std::vector<std::string> Catalog::FamilyNames() const {
  std::vector<std::string> names = registered_names_;
  for (const prometheus::MetricFamily& family : Collect()) names.push_back(family.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace sendgate::metrics
