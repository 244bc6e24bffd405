// The gRPC server: sendgate's services plus grpc.health.v1.Health and server reflection, in
// plaintext or over TLS (mutual TLS when client CAs are given) with gRPC's own credentials.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "service/settings/settings.h"

namespace sendgate::api {

// The gRPC port's credentials: plaintext, or TLS when `tls` is enabled (mutual TLS with client
// CAs). The TLS files must be readable PEM now (an error names the setting); gRPC reads them
// again every `tls.refresh`, and keeps the last good ones when a rotation leaves them bad.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const settings::Tls& tls);

class GrpcServer {
 public:
  // Listens on `listen` (ADDR:PORT; port 0 picks a free port) with `credentials`; `tls` says
  // whether they are TLS ones (the readiness probe speaks accordingly).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const std::string& listen, std::vector<grpc::Service*> services,
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials(),
      bool tls = false);

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
  bool tls_ = false;        // how it speaks there
  int port_ = 0;
};

}  // namespace sendgate::api
