#include "service/ctl/client_tls.h"

#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sendgate::ctl {
namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view what, const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  return std::string((std::istreambuf_iterator<char>(file)), {});
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const ClientTls& tls) {
  if (tls.ca_file.empty()) {
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      return absl::InvalidArgumentError("a client certificate needs TLS: give --cacert too");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("give both --cert and --key, or neither");
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> roots = ReadPem("--cacert", tls.ca_file);
  if (!roots.ok()) return roots.status();
  options.pem_root_certs = std::move(*roots);
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--cert", tls.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--key", tls.key_file);
    if (!key.ok()) return key.status();
    options.pem_cert_chain = std::move(*cert);
    options.pem_private_key = std::move(*key);
  }
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::string> BearerAuthorization(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream file(path);
  std::string token;
  if (!file || !std::getline(file, token)) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file: cannot read ", path));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("--token_file: ", path, " is empty"));
  return absl::StrCat("Bearer ", token);
}

}  // namespace sendgate::ctl
