// Fuzz target: the authorization policy's reader on any text, and a policy that loads
// evaluated for a caller with a certificate and one with a bearer token.
#include <cstdint>
#include <string>

#include "service/policy/authz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::shared_ptr<const sendgate::policy::AuthzPolicy>> policy =
      sendgate::policy::ParseAuthzPolicy(text, "fuzz.json");
  if (!policy.ok()) return 0;
  const sendgate::policy::Peer certified{.authenticated = true,
                                         .uri_sans = {"spiffe://example.com/sender"},
                                         .dns_sans = {"a.example.com"},
                                         .subject = "CN=a"};
  auto header = [](absl::string_view key) -> std::optional<std::string> {
    if (key == "authorization") return "Bearer token";
    return std::nullopt;
  };
  (*policy)->Allowing(certified, "/sendgate.v1.Arbiter/Decide", header);
  (*policy)->Allowing(sendgate::policy::Peer{}, "/sendgate.v1.Admin/Reload", header);
  return 0;
}
