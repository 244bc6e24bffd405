// sendgate.v1.Diagnostics over the same callback API as the Arbiter: Ping answers at once, so
// its throughput is the gRPC ceiling the benchmark compares Decide with.
#pragma once

#include "sendgate/v1/diagnostics.grpc.pb.h"
#include "service/api/admission.h"
#include "service/api/unary_call.h"

namespace sendgate::api {

class DiagnosticsService final : public v1::Diagnostics::CallbackService {
 public:
  explicit DiagnosticsService(Admission& admission) : admission_(admission) {}

  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const v1::PingRequest* request,
                                 v1::PingResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (!admission_.Enter()) {
      reactor->Finish(ShuttingDown());
      return reactor;
    }
    response->set_payload(request->payload());
    reactor->Finish(grpc::Status::OK);
    admission_.Leave();
    return reactor;
  }

 private:
  Admission& admission_;
};

}  // namespace sendgate::api
