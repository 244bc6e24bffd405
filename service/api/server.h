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

  // Whether the port still takes new connections: a fresh TCP connection gets the server's
  // HTTP/2 SETTINGS within `timeout`. gRPC 1.51 stops accepting for good after an accept()
  // fails (out of file descriptors, say) while calls on existing connections go on, so only a
  // new connection tells. Blocks up to `timeout`: for a thread that has nothing else to do.
  bool AcceptsConnections(absl::Duration timeout) const;

  // The first step of a graceful stop: grpc.health.v1.Health answers NOT_SERVING.
  void StartDraining();
  // Stops taking calls, lets calls in progress finish for up to `grace`, then cancels them.
  void Shutdown(absl::Duration grace);

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string probe_host_;  // where AcceptsConnections() connects
  int port_ = 0;
};

}  // namespace sendgate::api
