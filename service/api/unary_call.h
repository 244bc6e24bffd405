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

// A failure outside a decision, mapped on purpose. A store error by its kind: UNAVAILABLE when
// a retry may work, RESOURCE_EXHAUSTED when Redis is full, INTERNAL or DATA_LOSS when
// something is wrong that a retry cannot fix. Any other status keeps its code (absl's codes
// are gRPC's): FAILED_PRECONDITION for a stale version, ABORTED for a contention retry ...
inline grpc::Status CallFailure(const absl::Status& status) {
  if (!store::IsStoreError(status)) {
    return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                        std::string(status.message()));
  }
  const store::StoreErrorKind kind = store::KindOf(status);
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  if (store::Retryable(kind)) {
    code = grpc::StatusCode::UNAVAILABLE;
  } else if (status.code() == absl::StatusCode::kResourceExhausted) {
    code = grpc::StatusCode::RESOURCE_EXHAUSTED;
  } else if (status.code() == absl::StatusCode::kDataLoss) {
    code = grpc::StatusCode::DATA_LOSS;
  }
  return grpc::Status(code, absl::StrCat(store::KindCause(kind), ": ", status.message()));
}

// The answer to a call that arrives while sendgate drains: clients retry UNAVAILABLE.
inline grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "sendgate is shutting down; retry (another replica will answer)");
}

// The same bookkeeping for a streaming call's reactor: admitted (or refused while draining) when
// the reactor is made, the call counted with its final code and the admission given back when
// the reactor is done (a member of the reactor, destroyed with it).
class StreamAdmission {
 public:
  StreamAdmission(Admission& admission, DecisionMetrics& metrics, Method method)
      : admission_(admission), metrics_(metrics), method_(method),
        admitted_(admission.Enter()) {
    if (!admitted_) code = grpc::StatusCode::UNAVAILABLE;
  }
  ~StreamAdmission() {
    metrics_.RecordRpc(method_, code);
    if (admitted_) admission_.Leave();
  }
  StreamAdmission(const StreamAdmission&) = delete;
  StreamAdmission& operator=(const StreamAdmission&) = delete;

  // False: the reactor finishes at once with ShuttingDown().
  bool admitted() const { return admitted_; }

  grpc::StatusCode code = grpc::StatusCode::OK;  // what the call ends with

 private:
  Admission& admission_;
  DecisionMetrics& metrics_;
  const Method method_;
  const bool admitted_;
};

template <typename Request, typename Response>
class UnaryCall {
 public:
  // Admits and parses the call, and returns it; or returns nullptr when it is already
  // finished: refused while draining (UNAVAILABLE), or a request that does not parse
  // (INVALID_ARGUMENT naming the field). `reactor` is the context's DefaultReactor(), which
  // the method returns to gRPC either way.
  static UnaryCall* Start(grpc::ServerUnaryReactor* reactor, const grpc::ByteBuffer* in,
                          grpc::ByteBuffer* out, Method method, Admission& admission,
                          DecisionMetrics& metrics) {
    auto* call = new UnaryCall(reactor, out, method, admission, metrics);
    if (!admission.Enter()) {
      call->admitted_ = false;
      call->Finish(ShuttingDown());
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
  bool admitted_ = true;
};

}  // namespace sendgate::api
