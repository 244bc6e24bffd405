// The authorization policy: which caller may call which RPC, denied by default. The file is
// gRPC's authorization policy JSON (gRFC A43, what grpc::experimental's
// FileWatcherAuthorizationPolicyProvider reads), evaluated here with the same rules because
// Debian bookworm's gRPC 1.51 ships that provider's header without its implementation
// (docs/operations.md, "Caller roles"). The allow rule that lets a call in names its caller:
// the pressure policy's `callers` say what each may declare.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sendgate::policy {

// What the transport proved about a caller.
struct Peer {
  bool authenticated = false;  // it presented a certificate the server verified
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  std::string subject;  // RFC 2253
};

// A request header's value by lower-case key (the values of a repeated header joined by ','),
// or nullopt when the request has none.
using HeaderLookup = absl::FunctionRef<std::optional<std::string>(absl::string_view key)>;

// One string of the policy: "*" any non-empty value, "abc*" a prefix, "*abc" a suffix, else
// the exact value (compared in constant time: header values are bearer tokens).
class StringMatch {
 public:
  explicit StringMatch(absl::string_view pattern);
  bool Matches(absl::string_view value) const;
  bool any() const { return kind_ == Kind::kAny; }

 private:
  enum class Kind { kAny, kPrefix, kSuffix, kExact } kind_;
  std::string text_;
};

struct AuthzRule {
  struct Header {
    std::string key;
    std::vector<StringMatch> values;  // any of them
  };
  std::string name;
  // Absent or empty: any caller, with a certificate or not; "*": any caller with a verified
  // certificate; else one of its URI SANs, DNS SANs or subject (tried in that order).
  std::vector<StringMatch> principals;
  bool any_principal_authenticated = false;  // principals hold "*"
  std::vector<StringMatch> paths;            // empty: every RPC; else one of them
  std::vector<Header> headers;               // every one of them
};

class AuthzPolicy {
 public:
  AuthzPolicy(std::string name, std::vector<AuthzRule> deny, std::vector<AuthzRule> allow)
      : name_(std::move(name)), deny_(std::move(deny)), allow_(std::move(allow)) {}

  // The name of the allow rule that lets `peer` call `path` ("/sendgate.v1.Arbiter/Decide"),
  // or nullopt: a deny rule matches, or no allow rule does.
  std::optional<std::string> Allowing(const Peer& peer, absl::string_view path,
                                      HeaderLookup headers) const;

  const std::string& name() const { return name_; }
  const std::vector<AuthzRule>& allow_rules() const { return allow_; }

 private:
  std::string name_;
  std::vector<AuthzRule> deny_;
  std::vector<AuthzRule> allow_;
};

// Parses a policy; every error as "source:line:column: message". `source` names the text.
absl::StatusOr<std::shared_ptr<const AuthzPolicy>> ParseAuthzPolicy(absl::string_view json,
                                                                    absl::string_view source);

// ParseAuthzPolicy of the file at `path` (at most kMaxPolicyBytes).
absl::StatusOr<std::shared_ptr<const AuthzPolicy>> LoadAuthzPolicyFile(const std::string& path);

}  // namespace sendgate::policy
