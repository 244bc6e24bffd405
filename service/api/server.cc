#include "service/api/server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace sendgate::api {
namespace {

// The host part of ADDR:PORT, as a client reaches it: a wildcard address means loopback.
std::string ProbeHost(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "::") return "127.0.0.1";
  return host;
}

// Waits up to `timeout` (from `start`) for `events` on `fd`.
bool Ready(int fd, short events, absl::Time until) {
  const int64_t left = absl::ToInt64Milliseconds(until - absl::Now());
  if (left <= 0) return false;
  pollfd one{.fd = fd, .events = events, .revents = 0};
  return poll(&one, 1, static_cast<int>(left)) == 1 && (one.revents & events) != 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const std::string& listen, std::vector<grpc::Service*> services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto server = std::make_unique<GrpcServer>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &server->port_);
  for (grpc::Service* service : services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", listen,
                                               " (address in use or invalid?)"));
  }
  server->probe_host_ = ProbeHost(listen);
  return server;
}

bool GrpcServer::AcceptsConnections(absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* address = nullptr;
  if (getaddrinfo(probe_host_.c_str(), std::to_string(port_).c_str(), &hints, &address) != 0) {
    return false;
  }
  const int fd = socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  bool accepted = false;
  if (fd >= 0) {
    const bool connecting = connect(fd, address->ai_addr, address->ai_addrlen) == 0 ||
                            errno == EINPROGRESS;
    // The client connection preface and an empty SETTINGS frame (RFC 9113, 3.4).
    static constexpr char kPreface[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    char frame[9];
    accepted = connecting && Ready(fd, POLLOUT, until) &&
               write(fd, kPreface, sizeof(kPreface) - 1) == sizeof(kPreface) - 1 &&
               Ready(fd, POLLIN, until) && read(fd, frame, sizeof(frame)) == sizeof(frame) &&
               frame[3] == 0x04;  // the server's first frame is its SETTINGS
    close(fd);
  }
  freeaddrinfo(address);
  return accepted;
}

void GrpcServer::StartDraining() {
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
}

void GrpcServer::Shutdown(absl::Duration grace) {
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

}  // namespace sendgate::api
