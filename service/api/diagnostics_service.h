// sendgate.v1.Diagnostics over the same callback API as the Arbiter: Ping answers at once, so
// its throughput is the gRPC ceiling the benchmark compares Decide with.
#pragma once

#include "sendgate/v1/diagnostics.grpc.pb.h"

namespace sendgate::api {

class DiagnosticsService final : public v1::Diagnostics::CallbackService {
 public:
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const v1::PingRequest* request,
                                 v1::PingResponse* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace sendgate::api
