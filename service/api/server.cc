#include "service/api/server.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

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

// Whether `path` (the value of `setting`) holds a PEM block of `kind` ("CERTIFICATE",
// "PRIVATE KEY"): gRPC's file watcher would only log a bad file, and refuse every handshake.
absl::Status CheckPem(absl::string_view setting, const std::string& path, absl::string_view kind) {
  std::ifstream file(path);
  if (!file) return absl::InvalidArgumentError(absl::StrCat(setting, ": cannot read ", path));
  const std::string text((std::istreambuf_iterator<char>(file)), {});
  const size_t begin = text.find("-----BEGIN ");
  if (begin == std::string::npos || absl::string_view(text).find(kind, begin) == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": ", path, " holds no PEM ", kind));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const settings::Tls& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  for (const absl::Status& status :
       {CheckPem("tls_cert_file", tls.cert_file, "CERTIFICATE"),
        CheckPem("tls_key_file", tls.key_file, "PRIVATE KEY"),
        tls.client_ca_file.empty() ? absl::OkStatus()
                                   : CheckPem("tls_client_ca_file", tls.client_ca_file,
                                              "CERTIFICATE")}) {
    if (!status.ok()) return status;
  }
  if (!tls.crl_dir.empty() && !std::filesystem::is_directory(tls.crl_dir)) {
    return absl::InvalidArgumentError(absl::StrCat("tls_crl_dir: ", tls.crl_dir,
                                                   " is not a directory"));
  }
  auto files = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file,
      static_cast<unsigned int>(absl::ToInt64Seconds(tls.refresh)));
  grpc::experimental::TlsServerCredentialsOptions options(files);
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(tls.client_cert_optional
                                      ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    if (!tls.crl_dir.empty()) options.set_crl_directory(tls.crl_dir);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

namespace {

// A plaintext server that took the connection answers the HTTP/2 client preface and an empty
// SETTINGS frame (RFC 9113, 3.4) with its own SETTINGS.
bool AnswersPreface(int fd, absl::Time until) {
  static constexpr char kPreface[] =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  char frame[9];
  return write(fd, kPreface, sizeof(kPreface) - 1) == sizeof(kPreface) - 1 &&
         Ready(fd, POLLIN, until) && read(fd, frame, sizeof(frame)) == sizeof(frame) &&
         frame[3] == 0x04;
}

// A TLS server that took the connection answers a ClientHello (OpenSSL's) with its first
// flight. The probe hangs up there, which gRPC logs at debug level only: a handshake that
// fails its checks would be an error line every probe.
bool AnswersClientHello(int fd, absl::Time until) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = context != nullptr ? SSL_new(context) : nullptr;
  bool answered = false;
  if (ssl != nullptr && SSL_set_fd(ssl, fd) == 1) {
    const int sent = SSL_connect(ssl);  // writes the ClientHello, then wants the answer
    answered = sent <= 0 && SSL_get_error(ssl, sent) == SSL_ERROR_WANT_READ &&
               Ready(fd, POLLIN, until);
  }
  SSL_free(ssl);
  SSL_CTX_free(context);
  return answered;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const std::string& listen, std::vector<grpc::Service*> services,
    std::shared_ptr<grpc::ServerCredentials> credentials, bool tls) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto server = std::make_unique<GrpcServer>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, credentials, &server->port_);
  for (grpc::Service* service : services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", listen,
                                               " (address in use or invalid?)"));
  }
  server->probe_host_ = ProbeHost(listen);
  server->tls_ = tls;
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
    accepted = connecting && Ready(fd, POLLOUT, until) &&
               (tls_ ? AnswersClientHello(fd, until) : AnswersPreface(fd, until));
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
