#include "service/api/decision_metrics.h"

#include <string>

#include "absl/strings/ascii.h"
#include "sendgate/v1/arbiter.pb.h"
#include "service/store/store_error.h"

namespace sendgate::api {
namespace {

constexpr int kOutcomes = 3;
constexpr int kReasonCodes = v1::Reason::Code_ARRAYSIZE;

const char* OutcomeLabel(core::Outcome outcome) {
  switch (outcome) {
    case core::Outcome::kAllow: return "allow";
    case core::Outcome::kDeny: return "deny";
    case core::Outcome::kDefer: return "defer";
  }
  return "?";
}

int OutcomeIndex(core::Outcome outcome) { return static_cast<int>(outcome) - 1; }

// "cap_reached": the proto's name of a reason code, the one place reason names are written.
std::string ReasonLabel(int code) {
  return v1::Reason::Code_IsValid(code) ? absl::AsciiStrToLower(v1::Reason::Code_Name(code))
                                        : "unknown";
}

const char* CodeLabel(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS",    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",   "UNIMPLEMENTED",      "INTERNAL",
      "UNAVAILABLE", "DATA_LOSS",       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "UNKNOWN";
}

}  // namespace

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kDecide: return "Decide";
    case Method::kDecideStream: return "DecideStream";
    case Method::kCancel: return "Cancel";
    case Method::kGetPressure: return "GetPressure";
    case Method::kPlan: return "Plan";
    case Method::kGet: return "Get";
    case Method::kUpdate: return "Update";
    case Method::kImport: return "Import";
    case Method::kHistory: return "History";
    case Method::kForget: return "Forget";
    case Method::kGetPolicy: return "GetPolicy";
    case Method::kValidatePolicy: return "ValidatePolicy";
    case Method::kReload: return "Reload";
  }
  return "?";
}

DecisionMetrics::DecisionMetrics(metrics::Catalog& catalog) : catalog_(catalog) {
  shadow_results_ = {&catalog.shadow_decisions.With({"same"}),
                     &catalog.shadow_decisions.With({"different"}),
                     &catalog.shadow_decisions.With({"not_compared"})};
  for (int kind = 0; kind < store::kStoreErrorKinds; ++kind) {
    store_errors_[kind] = &catalog.store_errors.With(
        {std::string(store::KindLabel(static_cast<store::StoreErrorKind>(kind)))});
  }
  for (core::Outcome outcome : {core::Outcome::kAllow, core::Outcome::kDeny, core::Outcome::kDefer}) {
    replays_[OutcomeIndex(outcome)] = &catalog.replays.With({OutcomeLabel(outcome)});
  }
  for (Method method : {Method::kDecide, Method::kDecideStream}) {
    seconds_[static_cast<int>(method)] =
        &catalog.decision_seconds.With({std::string(MethodName(method))});
  }
}

std::shared_ptr<const DecisionMetrics::Table> DecisionMetrics::TableFor(
    const std::shared_ptr<const core::Policy>& policy) {
  std::shared_ptr<const Table> table = table_.load(std::memory_order_acquire);
  if (table && table->policy == policy) return table;
  auto fresh = std::make_shared<Table>();
  fresh->policy = policy;
  for (int o = 0; o < kOutcomes; ++o) {
    const char* outcome = OutcomeLabel(static_cast<core::Outcome>(o + 1));
    for (const core::Channel& channel : policy->channels) {
      for (const core::Category& category : policy->categories) {
        fresh->decisions.push_back(
            &catalog_.decisions.With({outcome, channel.name, category.name}));
      }
    }
    for (const core::Category& category : policy->categories) {
      fresh->degraded.push_back(&catalog_.degraded.With({outcome, category.name}));
    }
  }
  fresh->rules = policy->RuleIds();
  for (int code = 0; code < kReasonCodes; ++code) {
    // Code 0 (unspecified) is never given: no series for it.
    auto child = [&](const std::string& rule) {
      return code == 0 ? nullptr : &catalog_.reasons.With({ReasonLabel(code), rule});
    };
    fresh->reasons.push_back(child(""));
    for (const std::string& rule : fresh->rules) fresh->reasons.push_back(child(rule));
  }
  table_.store(fresh, std::memory_order_release);
  return fresh;
}

void DecisionMetrics::RecordDecision(const std::shared_ptr<const core::Policy>& policy,
                                     int channel, int category, const core::Decision& decision,
                                     const absl::Status& store_status, Method method,
                                     absl::Duration elapsed) {
  const std::shared_ptr<const Table> table = TableFor(policy);
  const size_t channels = policy->channels.size();
  const size_t categories = policy->categories.size();
  const int outcome = OutcomeIndex(decision.outcome);
  table->decisions[(outcome * channels + channel) * categories + category]->Increment();
  if (decision.degraded) table->degraded[outcome * categories + category]->Increment();
  if (decision.replayed) replays_[outcome]->Increment();
  const size_t rules = 1 + table->rules.size();
  for (const core::Reason& reason : decision.reasons) {
    size_t rule = 0;  // 1 + the rule's index in `rules`; 0 for none (or a subscription)
    for (size_t i = 0; i < table->rules.size() && !reason.rule_id.empty(); ++i) {
      if (table->rules[i] == reason.rule_id) rule = i + 1;
    }
    const size_t code = static_cast<size_t>(reason.code) % kReasonCodes;
    table->reasons[code * rules + rule]->Increment();
  }
  if (!store_status.ok()) RecordStoreError(store_status);
  seconds_[static_cast<int>(method)]->Observe(absl::ToDoubleSeconds(elapsed));
}

std::shared_ptr<const DecisionMetrics::ShadowTable> DecisionMetrics::ShadowTableFor(
    const std::shared_ptr<const core::Policy>& policy,
    const std::shared_ptr<const core::Policy>& candidate) {
  std::shared_ptr<const ShadowTable> table = shadow_table_.load(std::memory_order_acquire);
  if (table && table->policy == policy && table->candidate == candidate) return table;
  auto fresh = std::make_shared<ShadowTable>();
  fresh->policy = policy;
  fresh->candidate = candidate;
  const size_t rules = kReasonCodes + policy->caps.size() + candidate->caps.size();
  fresh->differences =
      std::make_unique<std::atomic<prometheus::Counter*>[]>(kOutcomes * kOutcomes * rules);
  shadow_table_.store(fresh, std::memory_order_release);
  return fresh;
}

prometheus::Counter& DecisionMetrics::Difference(const ShadowTable& table,
                                                 const core::Decision& active,
                                                 const core::Decision& candidate) {
  // The rule that holds the message: the candidate's when it does not allow it.
  const bool by_candidate = candidate.outcome != core::Outcome::kAllow;
  const core::Decision& holder = by_candidate ? candidate : active;
  const core::Policy& rules_of = by_candidate ? *table.candidate : *table.policy;
  size_t rule = 0;
  std::string label;
  if (!holder.reasons.empty()) {
    const core::Reason& reason = holder.reasons.front();
    rule = static_cast<size_t>(reason.code) % kReasonCodes;
    label = ReasonLabel(static_cast<int>(rule));
    for (size_t i = 0; i < rules_of.caps.size() && !reason.rule_id.empty(); ++i) {
      if (rules_of.caps[i].id != reason.rule_id) continue;
      rule = kReasonCodes + (by_candidate ? table.policy->caps.size() : 0) + i;
      label = reason.rule_id;
    }
  }
  const size_t rules = kReasonCodes + table.policy->caps.size() + table.candidate->caps.size();
  std::atomic<prometheus::Counter*>& slot =
      table.differences[(OutcomeIndex(active.outcome) * kOutcomes +
                         OutcomeIndex(candidate.outcome)) *
                            rules +
                        rule];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &catalog_.shadow_differences.With(
        {OutcomeLabel(active.outcome), OutcomeLabel(candidate.outcome), label});
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

void DecisionMetrics::RecordShadow(const std::shared_ptr<const core::Policy>& policy,
                                   const std::shared_ptr<const core::Policy>& candidate_policy,
                                   const core::Decision& active,
                                   const std::optional<core::Decision>& candidate) {
  if (!candidate.has_value()) {
    shadow_results_[2]->Increment();
    return;
  }
  if (candidate->outcome == active.outcome) {
    shadow_results_[0]->Increment();
    return;
  }
  shadow_results_[1]->Increment();
  Difference(*ShadowTableFor(policy, candidate_policy), active, *candidate).Increment();
}

void DecisionMetrics::RecordRpc(Method method, grpc::StatusCode code) {
  const int index = static_cast<int>(code);
  if (index < 0 || index >= 17) return;
  std::atomic<prometheus::Counter*>& slot = rpcs_[static_cast<int>(method)][index];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &catalog_.rpcs.With({std::string(MethodName(method)), CodeLabel(code)});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
}

void DecisionMetrics::RecordInvalid(Method method, const absl::Status& status) {
  // The field's name alone ("segments", not "segments[3]"): a bounded set of labels.
  const absl::string_view message = status.message();
  const absl::string_view field = message.substr(0, message.find_first_of(":[."));
  catalog_.invalid_requests.With({std::string(MethodName(method)), std::string(field)}).Increment();
}

void DecisionMetrics::RecordStoreError(const absl::Status& status) {
  store_errors_[static_cast<int>(store::KindOf(status))]->Increment();
}

void DecisionMetrics::RecordPreferenceUpdate(Method method, absl::string_view result) {
  catalog_.preference_updates.With({std::string(MethodName(method)), std::string(result)})
      .Increment();
}

void DecisionMetrics::RecordForget(absl::string_view result) {
  catalog_.forgets.With({std::string(result)}).Increment();
}

void DecisionMetrics::RecordCancel(bool cancelled) {
  catalog_.cancels.With({cancelled ? "cancelled" : "not_found"}).Increment();
}

}  // namespace sendgate::api
