// Records decisions and calls in the metric catalog from the hot path without locks: the
// labelled children a policy needs are looked up once per policy snapshot and then reused.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "service/core/decision.h"
#include "service/core/policy.h"
#include "service/metrics/catalog.h"
#include "service/store/store_error.h"

namespace sendgate::api {

enum class Method {
  kDecide,
  kDecideStream,
  kCancel,
  kGetPressure,
  kPlan,  // sendgate.v1.Arbiter
  kGet,
  kUpdate,
  kImport,
  kHistory,
  kForget,  // sendgate.v1.Preferences
  kGetPolicy,
  kValidatePolicy,
  kReload,  // sendgate.v1.Admin
};
inline constexpr int kMethodCount = static_cast<int>(Method::kReload) + 1;  // the last one
absl::string_view MethodName(Method method);

class DecisionMetrics {
 public:
  explicit DecisionMetrics(metrics::Catalog& catalog);

  // One decision; `store_status` is why the fail mode decided, or OK.
  // `channel` and `category` index the policy's lists.
  void RecordDecision(const std::shared_ptr<const core::Policy>& policy, int channel, int category,
                      const core::Decision& decision, const absl::Status& store_status,
                      Method method, absl::Duration elapsed);
  void RecordRpc(Method method, grpc::StatusCode code);
  void RecordInvalid(Method method, const absl::Status& status);
  // A store failure, counted by its kind (store_error.h).
  void RecordStoreError(const absl::Status& status);
  void RecordCancel(bool cancelled);
  // A preference update (Update or an Import row): `result` is changed, unchanged, invalid or
  // failed.
  void RecordPreferenceUpdate(Method method, absl::string_view result);
  void RecordForget(absl::string_view result);
  // Shadow mode: the candidate's decision beside the one in force (nullopt: not compared).
  void RecordShadow(const std::shared_ptr<const core::Policy>& policy,
                    const std::shared_ptr<const core::Policy>& candidate_policy,
                    const core::Decision& active, const std::optional<core::Decision>& candidate);

 private:
  // Children for one policy snapshot.
  struct Table {
    std::shared_ptr<const core::Policy> policy;
    std::vector<prometheus::Counter*> decisions;  // [outcome][channel][category]
    std::vector<std::string> rules;               // Policy::RuleIds()
    std::vector<prometheus::Counter*> reasons;    // [code][rule]: 0 none, then `rules`
    std::vector<prometheus::Counter*> degraded;   // [outcome][category]
  };
  std::shared_ptr<const Table> TableFor(const std::shared_ptr<const core::Policy>& policy);
  // Difference children for one (policy, candidate) pair, made on first use:
  // [active outcome][candidate outcome][rule], rules being reason codes, then the policy's
  // caps, then the candidate's.
  struct ShadowTable {
    std::shared_ptr<const core::Policy> policy, candidate;
    std::unique_ptr<std::atomic<prometheus::Counter*>[]> differences;
  };
  std::shared_ptr<const ShadowTable> ShadowTableFor(
      const std::shared_ptr<const core::Policy>& policy,
      const std::shared_ptr<const core::Policy>& candidate);
  prometheus::Counter& Difference(const ShadowTable& table, const core::Decision& active,
                                  const core::Decision& candidate);

  metrics::Catalog& catalog_;
  std::atomic<std::shared_ptr<const Table>> table_;
  std::atomic<std::shared_ptr<const ShadowTable>> shadow_table_;
  std::array<prometheus::Counter*, 3> shadow_results_{};  // same, different, not_compared
  std::array<prometheus::Counter*, 3> replays_;
  std::array<metrics::LatencyCell*, kMethodCount> seconds_{};  // Decide and DecideStream
  std::array<prometheus::Counter*, store::kStoreErrorKinds> store_errors_{};
  std::array<std::array<std::atomic<prometheus::Counter*>, 17>, kMethodCount> rpcs_{};
};

}  // namespace sendgate::api
