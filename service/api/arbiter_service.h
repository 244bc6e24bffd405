// sendgate.v1.Arbiter over gRPC's callback API, on raw methods: requests are parsed by
// wire.h, so that a string that is not UTF-8 is an INVALID_ARGUMENT naming its field and one
// bad request in a stream costs no other its answer. Each method converts and validates the
// request, hands it to the Decider or the store, and finishes the call from whichever thread
// the answer arrives on; no thread ever waits for Redis.
#pragma once

#include "sendgate/v1/arbiter.grpc.pb.h"
#include "service/api/admission.h"
#include "service/api/clock.h"
#include "service/api/decider.h"
#include "service/api/decision_metrics.h"
#include "service/api/policy_holder.h"
#include "service/store/store.h"

namespace sendgate::api {

struct ArbiterParts {
  Decider& decider;
  store::Store& store;
  const PolicyHolder& policies;
  const Clock& clock;
  DecisionMetrics& metrics;
  Admission& admission;
  // Shadow mode's candidate policy (null: none), decided beside the policy in force for the
  // contacts of `shadow_percent` percent of the contact-id space (the same contacts always).
  const PolicyHolder& shadow;
  int shadow_percent = 100;
};

using RawArbiterService = v1::Arbiter::WithRawCallbackMethod_Decide<
    v1::Arbiter::WithRawCallbackMethod_DecideStream<v1::Arbiter::WithRawCallbackMethod_Cancel<
        v1::Arbiter::WithRawCallbackMethod_GetPressure<
            v1::Arbiter::WithRawCallbackMethod_Plan<v1::Arbiter::Service>>>>>;

class ArbiterService final : public RawArbiterService {
 public:
  // Decisions one DecideStream may have read but not yet answered; beyond it, reading pauses.
  static constexpr int kMaxStreamInFlight = 512;

  explicit ArbiterService(ArbiterParts parts) : parts_(parts) {}

  grpc::ServerUnaryReactor* Decide(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DecideStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetPressure(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  // Look-ahead: planned sends, stored as plan_stream.h says.
  grpc::ServerReadReactor<grpc::ByteBuffer>* Plan(grpc::CallbackServerContext* context,
                                                  grpc::ByteBuffer* response) override;

 private:
  class StreamReactor;
  using Answered = absl::AnyInvocable<void(grpc::Status)>;

  // Validates `request` and decides it into `response`; `done` gets OK, or INVALID_ARGUMENT or
  // PERMISSION_DENIED naming the field (then `response` holds only the ids). Reads `request`
  // before returning.
  // `caller`: the allow rule that let the caller in ("" without an authorization policy),
  // held to what the policy's `callers` let it declare.
  void DecideInto(const v1::DecideRequest& request, absl::Time caller_deadline, Method method,
                  const std::string& caller, v1::DecideResponse* response, Answered done);

  // Shadow mode: the candidate policy's side of the request. A request the candidate refuses
  // gets a Shadow without policy, compared as a DENY.
  Shadow ShadowOf(const v1::DecideRequest& request,
                  const std::shared_ptr<const core::Policy>& policy,
                  std::shared_ptr<const core::Policy> candidate, absl::Time now);

  ArbiterParts parts_;
};

}  // namespace sendgate::api
