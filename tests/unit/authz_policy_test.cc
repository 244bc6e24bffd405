// The authorization policy (service/policy/authz): gRPC's JSON format read with positions, and
// evaluated as gRPC's engine does (deny rules first, then the first allow rule, else denied).
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/policy/authz.h"

namespace sendgate::policy {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const AuthzPolicy> Parse(const std::string& json) {
  absl::StatusOr<std::shared_ptr<const AuthzPolicy>> policy = ParseAuthzPolicy(json, "authz.json");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : nullptr;
}

std::string Error(const std::string& json) {
  absl::StatusOr<std::shared_ptr<const AuthzPolicy>> policy = ParseAuthzPolicy(json, "authz.json");
  EXPECT_FALSE(policy.ok());
  return std::string(policy.status().message());
}

Peer Certificate(std::vector<std::string> uris, std::vector<std::string> dns,
                 std::string subject = "CN=someone") {
  return Peer{.authenticated = true,
              .uri_sans = std::move(uris),
              .dns_sans = std::move(dns),
              .subject = std::move(subject)};
}

std::optional<std::string> Allowing(const AuthzPolicy& policy, const Peer& peer,
                                    absl::string_view path,
                                    const std::map<std::string, std::string>& headers = {}) {
  return policy.Allowing(peer, path, [&headers](absl::string_view key) {
    auto found = headers.find(std::string(key));
    return found == headers.end() ? std::nullopt : std::optional<std::string>(found->second);
  });
}

const char kRoles[] = R"({
  "name": "sendgate",
  "deny_rules": [
    {"name": "retired-tool", "source": {"principals": ["spiffe://acme/retired"]}}
  ],
  "allow_rules": [
    {"name": "newsletter", "source": {"principals": ["spiffe://acme/newsletter"]},
     "request": {"paths": ["/sendgate.v1.Arbiter/Decide", "/sendgate.v1.Arbiter/DecideStream"]}},
    {"name": "ops", "source": {"principals": ["*.ops.acme.internal"]},
     "request": {"paths": ["/sendgate.v1.Admin/*"]}},
    {"name": "reader", "source": {"principals": ["CN=dashboard,O=Acme"]},
     "request": {"paths": ["*/GetPressure"]}},
    {"name": "preference-centre",
     "request": {"paths": ["/sendgate.v1.Preferences/*"],
                 "headers": [{"key": "Authorization", "values": ["Bearer s3cret-token"]}]}},
    {"name": "anyone-certified", "source": {"principals": ["*"]},
     "request": {"paths": ["/sendgate.v1.Arbiter/Cancel"]}}
  ]
})";

TEST(AuthzPolicyTest, EachCallerIsAllowedItsOwnRpcsOnlyAndNamedByItsRule) {
  std::shared_ptr<const AuthzPolicy> policy = Parse(kRoles);
  ASSERT_NE(policy, nullptr);
  const Peer newsletter = Certificate({"spiffe://acme/newsletter"}, {"newsletter.acme.internal"});
  EXPECT_EQ(Allowing(*policy, newsletter, "/sendgate.v1.Arbiter/Decide"), "newsletter");
  EXPECT_EQ(Allowing(*policy, newsletter, "/sendgate.v1.Arbiter/DecideStream"), "newsletter");
  EXPECT_EQ(Allowing(*policy, newsletter, "/sendgate.v1.Admin/Reload"), std::nullopt);
  EXPECT_EQ(Allowing(*policy, newsletter, "/sendgate.v1.Preferences/Update"), std::nullopt);

  // A DNS SAN by suffix; a subject exactly.
  const Peer ops = Certificate({}, {"alice.ops.acme.internal"});
  EXPECT_EQ(Allowing(*policy, ops, "/sendgate.v1.Admin/Reload"), "ops");
  EXPECT_EQ(Allowing(*policy, ops, "/sendgate.v1.Arbiter/Decide"), std::nullopt);
  const Peer dashboard = Certificate({}, {}, "CN=dashboard,O=Acme");
  EXPECT_EQ(Allowing(*policy, dashboard, "/sendgate.v1.Arbiter/GetPressure"), "reader");
  EXPECT_EQ(Allowing(*policy, Certificate({}, {}, "CN=dashboard,O=Other"),
                     "/sendgate.v1.Arbiter/GetPressure"),
            std::nullopt);
}

TEST(AuthzPolicyTest, ABearerTokenLetsACallerWithoutACertificateIn) {
  std::shared_ptr<const AuthzPolicy> policy = Parse(kRoles);
  ASSERT_NE(policy, nullptr);
  const Peer anonymous;
  EXPECT_EQ(Allowing(*policy, anonymous, "/sendgate.v1.Preferences/Update",
                     {{"authorization", "Bearer s3cret-token"}}),
            "preference-centre");
  EXPECT_EQ(Allowing(*policy, anonymous, "/sendgate.v1.Preferences/Update",
                     {{"authorization", "Bearer s3cret-tokeN"}}),
            std::nullopt);
  EXPECT_EQ(Allowing(*policy, anonymous, "/sendgate.v1.Preferences/Update",
                     {{"authorization", "Bearer s3cret-token-longer"}}),
            std::nullopt);
  EXPECT_EQ(Allowing(*policy, anonymous, "/sendgate.v1.Preferences/Update"), std::nullopt);
  // The token gives its own RPCs only.
  EXPECT_EQ(Allowing(*policy, anonymous, "/sendgate.v1.Admin/Reload",
                     {{"authorization", "Bearer s3cret-token"}}),
            std::nullopt);
}

TEST(AuthzPolicyTest, AStarPrincipalNeedsAVerifiedCertificateAndDenyRulesWin) {
  std::shared_ptr<const AuthzPolicy> policy = Parse(kRoles);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Allowing(*policy, Certificate({}, {"x.example"}), "/sendgate.v1.Arbiter/Cancel"),
            "anyone-certified");
  EXPECT_EQ(Allowing(*policy, Peer{}, "/sendgate.v1.Arbiter/Cancel"), std::nullopt);
  EXPECT_EQ(
      Allowing(*policy, Certificate({"spiffe://acme/retired"}, {}), "/sendgate.v1.Arbiter/Cancel"),
      std::nullopt);
}

TEST(AuthzPolicyTest, NoAllowRuleDeniesEverything) {
  std::shared_ptr<const AuthzPolicy> policy = Parse(R"({"name": "closed", "allow_rules": []})");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(Allowing(*policy, Certificate({"spiffe://a"}, {}), "/sendgate.v1.Arbiter/Decide"),
            std::nullopt);
}

TEST(AuthzPolicyTest, EveryErrorIsReportedWithItsPosition) {
  EXPECT_THAT(Error("{\"name\": \"x\", \"allow_rules\": [}"), HasSubstr("authz.json:1:"));
  EXPECT_THAT(Error("name: x\nallow_rules: []\n"), HasSubstr("must be a JSON object"));
  const std::string errors = Error(R"({
  "name": "x",
  "alow_rules": [],
  "deny_rules": {"name": "y"},
  "allow_rules": [
    {"name": "a", "source": {"principals": "spiffe://a"}},
    {"name": "a", "request": {"paths": [1], "headers": [{"key": ":path", "values": ["/x"]}]}},
    {"name": "has space"},
    {"source": {"principal": ["x"]}},
    {"name": "b", "request": {"headers": [{"key": "x-token"}]}}
  ]
})");
  EXPECT_THAT(errors, HasSubstr("authz.json:3:3: unknown key 'alow_rules'"));
  EXPECT_THAT(errors, HasSubstr("authz.json:4:17: deny_rules must be a JSON array"));
  EXPECT_THAT(errors, HasSubstr("authz.json:6:44: allow_rules[0].source.principals must be a "
                                "JSON array"));
  EXPECT_THAT(errors, HasSubstr("authz.json:7:14: allow_rules[1]: the name 'a' is given to "
                                "another rule"));
  EXPECT_THAT(errors, HasSubstr("allow_rules[1].request.paths[0] must be a JSON string"));
  EXPECT_THAT(errors, HasSubstr("allow_rules[1].request.headers[0].key ':path' cannot be matched"));
  EXPECT_THAT(errors, HasSubstr("allow_rules[2].name 'has space' must be 1 to 64"));
  EXPECT_THAT(errors, HasSubstr("unknown key 'principal' in allow_rules[3].source"));
  EXPECT_THAT(errors, HasSubstr("authz.json:9:5: allow_rules[3].name is required"));
  EXPECT_THAT(errors, HasSubstr("allow_rules[4].request.headers[0].values must list at least"));
}

TEST(AuthzPolicyTest, TheShippedExampleLoads) {
  absl::StatusOr<std::shared_ptr<const AuthzPolicy>> policy =
      LoadAuthzPolicyFile(std::string(SENDGATE_SOURCE_DIR) + "/policies/authz.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::vector<std::string> names;
  for (const AuthzRule& rule : (*policy)->allow_rules()) names.push_back(rule.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"sender", "preference-centre", "admin", "reader"}));
}

}  // namespace
}  // namespace sendgate::policy
