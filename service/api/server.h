// The gRPC server: sendgate's services plus grpc.health.v1.Health and server reflection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace sendgate::api {

class GrpcServer {
 public:
  // Listens on `listen` (ADDR:PORT; port 0 picks a free port) without TLS.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const std::string& listen,
                                                          std::vector<grpc::Service*> services);

  int port() const { return port_; }
  // Stops taking calls, lets calls in progress finish for up to `grace`, then cancels them.
  void Shutdown(absl::Duration grace);

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace sendgate::api
