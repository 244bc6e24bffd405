// sendgate.v1.Admin over gRPC's callback API, on raw methods as the Arbiter (wire.h): the
// policy in force, a candidate's check and the reload, all run by the PolicyRollout's thread;
// the call finishes from there, so no gRPC thread reads a file or compiles a policy.
#pragma once

#include "sendgate/v1/admin.grpc.pb.h"
#include "service/api/admission.h"
#include "service/api/decision_metrics.h"
#include "service/api/policy_holder.h"
#include "service/api/policy_rollout.h"

namespace sendgate::api {

struct AdminParts {
  const PolicyHolder& policies;
  const PolicyHolder& shadow;
  PolicyRollout& rollout;
  DecisionMetrics& metrics;
  Admission& admission;
};

using RawAdminService =
    v1::Admin::WithRawCallbackMethod_GetPolicy<v1::Admin::WithRawCallbackMethod_ValidatePolicy<
        v1::Admin::WithRawCallbackMethod_Reload<v1::Admin::Service>>>;

class AdminService final : public RawAdminService {
 public:
  explicit AdminService(AdminParts parts) : parts_(parts) {}

  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ValidatePolicy(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  AdminParts parts_;
};

// The name a ValidatePolicy request gives its text, checked: "candidate" when empty.
absl::StatusOr<std::string> CandidateName(absl::string_view name);

}  // namespace sendgate::api
