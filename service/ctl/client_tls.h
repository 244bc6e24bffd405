// The credentials of a client of sendgate (sendgatectl, the load generator, the tests):
// plaintext, or TLS trusting the CAs that sign sendgate's certificate, with the client's own
// certificate and key for mutual TLS; or a bearer token that the authorization policy names. The server's certificate must name the host the client
// dials (a DNS or IP subject alternative name).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"

namespace sendgate::ctl {

struct ClientTls {
  std::string ca_file;    // PEM; empty: plaintext
  std::string cert_file;  // mutual TLS: the client's certificate chain, PEM
  std::string key_file;   // and its private key
};

// Plaintext credentials when `tls.ca_file` is empty; an error names the unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const ClientTls& tls);

// The `authorization` header value a caller without a certificate sends ("Bearer TOKEN"), the
// token being the first line of `path` (--token_file); "" when `path` is empty. Read once per
// process: a rotated token is picked up by the next command.
absl::StatusOr<std::string> BearerAuthorization(const std::string& path);

}  // namespace sendgate::ctl
