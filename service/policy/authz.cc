#include "service/policy/authz.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/policy/loader.h"
#include "service/policy/yaml_reader.h"

namespace sendgate::policy {
namespace {

const std::vector<absl::string_view> kTopKeys = {"name", "deny_rules", "allow_rules"};
const std::vector<absl::string_view> kRuleKeys = {"name", "source", "request"};
const std::vector<absl::string_view> kSourceKeys = {"principals"};
const std::vector<absl::string_view> kRequestKeys = {"paths", "headers"};
const std::vector<absl::string_view> kHeaderKeys = {"key", "values"};

// Reads the policy's JSON through the YAML reader (JSON is YAML), holding it to JSON: an
// object at the top, arrays as arrays and strings quoted, so the file stays one gRPC reads.
class AuthzReader {
 public:
  explicit AuthzReader(absl::string_view source) : reader_(source) {}

  std::shared_ptr<const AuthzPolicy> Read(const YAML::Node& root) {
    if (!root.IsMap() || root.Style() != YAML::EmitterStyle::Flow) {
      reader_.Error(root, "the authorization policy must be a JSON object");
      return nullptr;
    }
    reader_.CheckKeys(root, kTopKeys, "the authorization policy");
    std::optional<std::string> name = Required(root, "name", "name");
    if (!root["allow_rules"].IsDefined()) {
      reader_.Error(root, "allow_rules is required (an empty list denies every call)");
    }
    std::vector<AuthzRule> deny = Rules(root["deny_rules"], "deny_rules");
    std::vector<AuthzRule> allow = Rules(root["allow_rules"], "allow_rules");
    if (!reader_.ok()) return nullptr;
    return std::make_shared<const AuthzPolicy>(*name, std::move(deny), std::move(allow));
  }

  absl::Status Status() const { return reader_.Status(); }

 private:
  // The string `parent[key]`, which must be there.
  std::optional<std::string> Required(const YAML::Node& parent, const char* key,
                                      absl::string_view what) {
    if (!parent[key].IsDefined()) {
      reader_.Error(parent, absl::StrCat(what, " is required"));
      return std::nullopt;
    }
    return String(parent[key], what);
  }

  std::optional<std::string> String(const YAML::Node& node, absl::string_view what) {
    if (!node.IsScalar() || node.Tag() != "!") {
      reader_.Error(node, absl::StrCat(what, " must be a JSON string"));
      return std::nullopt;
    }
    if (node.Scalar().empty()) {
      reader_.Error(node, absl::StrCat(what, " must not be empty"));
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::vector<YAML::Node> Array(const YAML::Node& node, absl::string_view what) {
    std::vector<YAML::Node> items;
    if (!node.IsDefined()) return items;
    if (!node.IsSequence()) {
      reader_.Error(node, absl::StrCat(what, " must be a JSON array"));
      return items;
    }
    for (const auto& item : node) items.push_back(item);
    return items;
  }

  std::vector<StringMatch> Matches(const YAML::Node& node, absl::string_view what) {
    std::vector<StringMatch> matches;
    const std::vector<YAML::Node> items = Array(node, what);
    for (size_t i = 0; i < items.size(); ++i) {
      std::optional<std::string> text = String(items[i], absl::StrCat(what, "[", i, "]"));
      if (text) matches.emplace_back(*text);
    }
    return matches;
  }

  std::vector<AuthzRule> Rules(const YAML::Node& node, absl::string_view what) {
    std::vector<AuthzRule> rules;
    std::set<std::string> names;
    const std::vector<YAML::Node> items = Array(node, what);
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string where = absl::StrCat(what, "[", i, "]");
      std::optional<AuthzRule> rule = Rule(items[i], where);
      if (!rule) continue;
      if (!names.insert(rule->name).second) {
        reader_.Error(items[i]["name"], absl::StrCat(where, ": the name '", rule->name,
                                                     "' is given to another rule of ", what));
      }
      rules.push_back(std::move(*rule));
    }
    return rules;
  }

  std::optional<AuthzRule> Rule(const YAML::Node& node, const std::string& where) {
    if (!reader_.IsMap(node, where)) return std::nullopt;
    reader_.CheckKeys(node, kRuleKeys, where);
    AuthzRule rule;
    // The name identifies the caller to the pressure policy's `callers`: a declared name.
    const YAML::Node name = node["name"];
    if (Required(node, "name", where + ".name")) {
      if (std::optional<std::string> declared = reader_.Name(name, where + ".name")) {
        rule.name = *declared;
      }
    }
    if (const YAML::Node source = node["source"]; source.IsDefined()) {
      if (reader_.IsMap(source, where + ".source")) {
        reader_.CheckKeys(source, kSourceKeys, where + ".source");
        rule.principals = Matches(source["principals"], where + ".source.principals");
        rule.any_principal_authenticated =
            std::any_of(rule.principals.begin(), rule.principals.end(),
                        [](const StringMatch& principal) { return principal.any(); });
      }
    }
    if (const YAML::Node request = node["request"]; request.IsDefined()) {
      if (reader_.IsMap(request, where + ".request")) {
        reader_.CheckKeys(request, kRequestKeys, where + ".request");
        rule.paths = Matches(request["paths"], where + ".request.paths");
        rule.headers = Headers(request["headers"], where + ".request.headers");
      }
    }
    if (rule.name.empty()) return std::nullopt;
    return rule;
  }

  std::vector<AuthzRule::Header> Headers(const YAML::Node& node, const std::string& what) {
    std::vector<AuthzRule::Header> headers;
    const std::vector<YAML::Node> items = Array(node, what);
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string where = absl::StrCat(what, "[", i, "]");
      if (!reader_.IsMap(items[i], where)) continue;
      reader_.CheckKeys(items[i], kHeaderKeys, where);
      std::optional<std::string> key = HeaderKey(items[i], where + ".key");
      std::vector<StringMatch> values = Matches(items[i]["values"], where + ".values");
      if (values.empty()) reader_.Error(items[i], where + ".values must list at least one value");
      if (key) headers.push_back({*key, std::move(values)});
    }
    return headers;
  }

  // A header gRPC lets a policy match: not a pseudo-header, not gRPC's own, not "host".
  std::optional<std::string> HeaderKey(const YAML::Node& header, const std::string& what) {
    const YAML::Node node = header["key"];
    std::optional<std::string> key = Required(header, "key", what);
    if (!key) return std::nullopt;
    if (absl::StartsWith(*key, ":") || absl::StartsWith(absl::AsciiStrToLower(*key), "grpc-") ||
        absl::AsciiStrToLower(*key) == "host") {
      reader_.Error(node, absl::StrCat(what, " '", *key,
                                       "' cannot be matched (pseudo-headers, grpc-* and host are "
                                       "gRPC's own)"));
      return std::nullopt;
    }
    return absl::AsciiStrToLower(*key);
  }

  Reader reader_;
};

bool AnyMatches(const std::vector<StringMatch>& matches, absl::string_view value) {
  for (const StringMatch& match : matches) {
    if (match.Matches(value)) return true;
  }
  return false;
}

bool PrincipalMatches(const AuthzRule& rule, const Peer& peer) {
  if (rule.principals.empty()) return true;
  if (!peer.authenticated) return false;
  if (rule.any_principal_authenticated) return true;
  for (const std::string& uri : peer.uri_sans) {
    if (AnyMatches(rule.principals, uri)) return true;
  }
  for (const std::string& dns : peer.dns_sans) {
    if (AnyMatches(rule.principals, dns)) return true;
  }
  return AnyMatches(rule.principals, peer.subject);
}

bool RuleMatches(const AuthzRule& rule, const Peer& peer, absl::string_view path,
                 HeaderLookup headers) {
  if (!PrincipalMatches(rule, peer)) return false;
  if (!rule.paths.empty() && !AnyMatches(rule.paths, path)) return false;
  for (const AuthzRule::Header& header : rule.headers) {
    std::optional<std::string> value = headers(header.key);
    if (!value || !AnyMatches(header.values, *value)) return false;
  }
  return true;
}

}  // namespace

StringMatch::StringMatch(absl::string_view pattern) {
  if (pattern == "*") {
    kind_ = Kind::kAny;
  } else if (absl::StartsWith(pattern, "*")) {
    kind_ = Kind::kSuffix;
    pattern.remove_prefix(1);
  } else if (absl::EndsWith(pattern, "*")) {
    kind_ = Kind::kPrefix;
    pattern.remove_suffix(1);
  } else {
    kind_ = Kind::kExact;
  }
  text_ = std::string(pattern);
}

bool StringMatch::Matches(absl::string_view value) const {
  switch (kind_) {
    case Kind::kAny:
      return !value.empty();
    case Kind::kPrefix:
      return absl::StartsWith(value, text_);
    case Kind::kSuffix:
      return absl::EndsWith(value, text_);
    case Kind::kExact:
      return value.size() == text_.size() &&
             CRYPTO_memcmp(value.data(), text_.data(), text_.size()) == 0;
  }
  return false;
}

std::optional<std::string> AuthzPolicy::Allowing(const Peer& peer, absl::string_view path,
                                                 HeaderLookup headers) const {
  for (const AuthzRule& rule : deny_) {
    if (RuleMatches(rule, peer, path, headers)) return std::nullopt;
  }
  for (const AuthzRule& rule : allow_) {
    if (RuleMatches(rule, peer, path, headers)) return rule.name;
  }
  return std::nullopt;
}

absl::StatusOr<std::shared_ptr<const AuthzPolicy>> ParseAuthzPolicy(absl::string_view json,
                                                                    absl::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(json));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", error.mark.line + 1, ":",
                                                   error.mark.column + 1, ": ", error.msg));
  }
  AuthzReader reader(source);
  std::shared_ptr<const AuthzPolicy> policy = reader.Read(root);
  if (policy == nullptr) return reader.Status();
  return policy;
}

absl::StatusOr<std::shared_ptr<const AuthzPolicy>> LoadAuthzPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPolicyFile(path);
  if (!text.ok()) return text.status();
  return ParseAuthzPolicy(*text, path);
}

}  // namespace sendgate::policy
