#include "service/api/admission.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"

namespace sendgate::api {
namespace {

// The RPC's path as gRPC and the authorization policy name it, made once per method.
const std::string& MethodPath(Method method) {
  static const std::array<std::string, kMethodCount> paths = [] {
    std::array<std::string, kMethodCount> made;
    for (int i = 0; i < kMethodCount; ++i) {
      const Method each = static_cast<Method>(i);
      const absl::string_view service = each <= Method::kPlan     ? "Arbiter"
                                        : each <= Method::kForget ? "Preferences"
                                                                  : "Admin";
      made[i] = absl::StrCat("/sendgate.v1.", service, "/", MethodName(each));
    }
    return made;
  }();
  return paths[static_cast<int>(method)];
}

std::vector<std::string> Values(const grpc::AuthContext& auth, const char* property) {
  std::vector<std::string> values;
  for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
    values.emplace_back(value.data(), value.size());
  }
  return values;
}

// What the handshake proved: a certificate counts only when the server verified it (with
// --tls_client_cert_optional a TLS caller may have none, and then no principal matches it).
policy::Peer PeerOf(const grpc::CallbackServerContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  policy::Peer peer;
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return peer;
  peer.authenticated = true;
  peer.uri_sans = Values(*auth, GRPC_PEER_URI_PROPERTY_NAME);
  peer.dns_sans = Values(*auth, GRPC_PEER_DNS_PROPERTY_NAME);
  const std::vector<std::string> subject = Values(*auth, GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (!subject.empty()) peer.subject = subject.front();
  return peer;
}

// A request header by its lower-case key; the values of a repeated one joined by ','.
std::optional<std::string> Header(const grpc::CallbackServerContext& context,
                                  absl::string_view key) {
  const auto [first, last] =
      context.client_metadata().equal_range(grpc::string_ref(key.data(), key.size()));
  if (first == last) return std::nullopt;
  std::string value;
  for (auto entry = first; entry != last; ++entry) {
    if (entry != first) value += ',';
    value.append(entry->second.data(), entry->second.size());
  }
  return value;
}

}  // namespace

grpc::Status Admission::Admit(const grpc::CallbackServerContext& context, Method method,
                              std::string& caller) {
  if (!Enter()) return ShuttingDown();
  if (authz_ == nullptr) return grpc::Status::OK;
  const std::shared_ptr<const policy::AuthzPolicy> policy = authz_->Current();
  const std::string& path = MethodPath(method);
  std::optional<std::string> allowing = policy->Allowing(
      PeerOf(context), path, [&context](absl::string_view key) { return Header(context, key); });
  if (allowing) {
    caller = std::move(*allowing);
    return grpc::Status::OK;
  }
  Leave();
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat(path, ": not allowed for this caller by authorization policy '",
                                   policy->name(), "'"));
}

}  // namespace sendgate::api
