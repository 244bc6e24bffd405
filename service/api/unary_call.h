// One unary call on a raw method (wire.h), from admission to its end: the request parsed, the
// response serialized, the call counted. A handler fills `response` and calls Finish() once,
// from any thread; the call deletes itself then.
#pragma once

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "service/api/admission.h"
#include "service/api/decision_metrics.h"
#include "service/api/wire.h"
#include "service/store/store_error.h"

namespace sendgate::api {

inline grpc::Status InvalidArgument(const absl::Status& status) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(status.message()));
}

// The caller's gRPC deadline (InfiniteFuture when it set none).
inline absl::Time CallerDeadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// A failure outside a decision, mapped on purpose. A store error by its kind:
// RESOURCE_EXHAUSTED when Redis is full or a bounded queue is (too many commands wait for
// Redis: back off), UNAVAILABLE when a retry may work, INTERNAL or DATA_LOSS when something is
// wrong that a retry cannot fix. Any other status keeps its code (absl's codes
// are gRPC's): FAILED_PRECONDITION for a stale version, ABORTED for a contention retry ...
// A write that stands on the Redis primary, its replicas unconfirmed, is UNAVAILABLE with the
// store's own words (which say so): Redis did answer, and the same call again is harmless.
inline grpc::Status CallFailure(const absl::Status& status) {
  if (!store::IsStoreError(status)) {
    return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                        std::string(status.message()));
  }
  if (store::IsWrittenOnPrimary(status)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(status.message()));
  }
  const store::StoreErrorKind kind = store::KindOf(status);
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    code = grpc::StatusCode::RESOURCE_EXHAUSTED;
  } else if (store::Retryable(kind)) {
    code = grpc::StatusCode::UNAVAILABLE;
  } else if (status.code() == absl::StatusCode::kDataLoss) {
    code = grpc::StatusCode::DATA_LOSS;
  }
  return grpc::Status(code, absl::StrCat(store::KindCause(kind), ": ", status.message()));
}

// The same bookkeeping for a streaming call's reactor: admitted (or refused while draining, or
// by the authorization policy) when the reactor is made, the call counted with its final code
// and the admission given back when the reactor is done (a member of the reactor, destroyed
// with it).
class StreamAdmission {
 public:
  StreamAdmission(Admission& admission, DecisionMetrics& metrics, Method method,
                  const grpc::CallbackServerContext& context)
      : admission_(admission), metrics_(metrics), method_(method),
        refusal_(admission.Admit(context, method, caller_)) {
    code = refusal_.error_code();
  }
  ~StreamAdmission() {
    metrics_.RecordRpc(method_, code);
    if (admitted()) admission_.Leave();
  }
  StreamAdmission(const StreamAdmission&) = delete;
  StreamAdmission& operator=(const StreamAdmission&) = delete;

  // False: the reactor finishes at once with refusal().
  bool admitted() const { return refusal_.ok(); }
  const grpc::Status& refusal() const { return refusal_; }
  // The allow rule of the authorization policy that let the caller in ("" without a policy).
  const std::string& caller() const { return caller_; }

  grpc::StatusCode code = grpc::StatusCode::OK;  // what the call ends with

 private:
  Admission& admission_;
  DecisionMetrics& metrics_;
  const Method method_;
  std::string caller_;
  const grpc::Status refusal_;
};

template <typename Request, typename Response>
class UnaryCall {
 public:
  // Admits and parses the call, and returns it; or returns nullptr when it is already
  // finished: refused while draining (UNAVAILABLE) or by the authorization policy
  // (PERMISSION_DENIED), or a request that does not parse (INVALID_ARGUMENT naming the
  // field). The method returns the context's DefaultReactor() to gRPC either way.
  static UnaryCall* Start(grpc::CallbackServerContext* context, const grpc::ByteBuffer* in,
                          grpc::ByteBuffer* out, Method method, Admission& admission,
                          DecisionMetrics& metrics) {
    auto* call = new UnaryCall(context->DefaultReactor(), out, method, admission, metrics);
    if (grpc::Status refused = admission.Admit(*context, method, call->caller_); !refused.ok()) {
      call->admitted_ = false;
      call->Finish(std::move(refused));
      return nullptr;
    }
    if (absl::Status parsed = ParseRequest(*in, call->request); !parsed.ok()) {
      metrics.RecordInvalid(method, parsed);
      call->Finish(InvalidArgument(parsed));
      return nullptr;
    }
    return call;
  }

  void Finish(grpc::Status status) {
    if (status.ok()) status = SerializeResponse(response, out_);
    metrics_.RecordRpc(method_, status.error_code());
    if (admitted_) admission_.Leave();
    reactor_->Finish(std::move(status));
    delete this;
  }

  // The allow rule of the authorization policy that let the caller in ("" without a policy).
  const std::string& caller() const { return caller_; }

  Request request;
  Response response;

 private:
  UnaryCall(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* out, Method method,
            Admission& admission, DecisionMetrics& metrics)
      : reactor_(reactor),
        out_(out),
        method_(method),
        admission_(admission),
        metrics_(metrics) {}

  grpc::ServerUnaryReactor* const reactor_;
  grpc::ByteBuffer* const out_;
  const Method method_;
  Admission& admission_;
  DecisionMetrics& metrics_;
  std::string caller_;
  bool admitted_ = true;
};

}  // namespace sendgate::api
