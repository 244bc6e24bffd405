// The policy file: the example policy loads, and every kind of mistake is reported with
// file:line:column and what would be accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/policy/loader.h"

namespace sendgate::policy {
namespace {

using ::testing::HasSubstr;

std::string Errors(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy = ParsePolicy(yaml, "p.yaml");
  EXPECT_FALSE(policy.ok());
  return policy.ok() ? "" : std::string(policy.status().message());
}

const char* const kHead = R"yaml(channels: [email, sms]
categories:
  marketing: {}
  transactional:
    exempt_from: [caps]
)yaml";

TEST(PolicyLoaderTest, TheExamplePolicyLoads) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy =
      LoadPolicyFile(std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const core::Policy& p = **policy;
  EXPECT_EQ(p.version, "default-2026-11-23");
  EXPECT_EQ(p.channels.size(), 3u);
  ASSERT_EQ(p.caps.size(), 4u);
  EXPECT_EQ(p.caps[0].id, "email-marketing-7d");
  EXPECT_EQ(p.caps[0].limit, 3);
  EXPECT_EQ(p.caps[0].segment_limits[0].segment, "inactive");
  EXPECT_EQ(p.caps[3].per, std::vector<core::Field>{core::Field::kCampaign});
  EXPECT_TRUE(p.categories[p.FindCategory("transactional")].exempt.caps);
  EXPECT_EQ(p.categories[p.FindCategory("transactional")].on_store_failure, core::FailMode::kAllow);
  EXPECT_EQ(p.categories[p.default_category].name, "marketing");
}

TEST(PolicyLoaderTest, DefaultsAndGeneratedDescriptions) {
  auto policy = ParsePolicy(std::string(kHead) + R"yaml(caps:
  - id: a
    channels: email
    window: calendar week
    limit: 2
)yaml", "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy)->caps[0].description, "email messages, calendar week");
  EXPECT_EQ((*policy)->max_delay, absl::Hours(24 * 7));
  EXPECT_EQ((*policy)->default_timezone.name(), "UTC");
  EXPECT_EQ((*policy)->version.rfind("fnv-", 0), 0u);  // no version: the content's hash
  // Without a category list, a cap limits and counts every category not exempt.
  EXPECT_EQ((*policy)->caps[0].only[1].size(), 1u);
}

TEST(PolicyLoaderTest, UnknownKeysAreReportedWithTheirPosition) {
  const std::string errors = Errors(std::string(kHead) + R"yaml(caps:
  - id: a
    window: 7d
    limt: 3
)yaml");
  EXPECT_THAT(errors, HasSubstr("p.yaml:9:5: unknown key 'limt' in cap 'a' (expected one of:"));
  EXPECT_THAT(errors, HasSubstr("cap 'a' needs a limit"));
}

TEST(PolicyLoaderTest, EveryMistakeIsReportedAtOnce) {
  const std::string errors = Errors(std::string(kHead) + R"yaml(timezone: Mars/Olympus
caps:
  - id: a
    channels: [fax]
    window: 7 days
    limit: -1
  - id: a
    window: 0m
    limit: 1001
    per: sender
)yaml");
  EXPECT_THAT(errors, HasSubstr("p.yaml:6:11: timezone 'Mars/Olympus' is not a known IANA"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:9:16: channels: 'fax' is not declared (declared: email, sms)"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:10:13: window must be a rolling duration"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:11:12: limit must be a whole number from 0 to 1000, not '-1'"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:12:9: cap id 'a' is used twice"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:13:13: window must be"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:14:12: limit must be a whole number from 0 to 1000, not '1001'"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:15:10: per accepts channel, category"));
}

TEST(PolicyLoaderTest, StructureMistakes) {
  EXPECT_THAT(Errors("channels: [email\n"), HasSubstr("p.yaml:2:1:"));
  EXPECT_THAT(Errors("- a\n- b\n"), HasSubstr("a policy must be a mapping"));
  EXPECT_THAT(Errors("categories: {marketing: {}}\n"), HasSubstr("declares no channels"));
  EXPECT_THAT(Errors("channels: [email, email]\ncategories: {marketing: {}}\n"),
              HasSubstr("p.yaml:1:19: channel 'email' is declared twice"));
  EXPECT_THAT(Errors("channels: [email]\ncategories: {promo: {}}\n"),
              HasSubstr("default_category 'marketing' is not a declared category"));
  EXPECT_THAT(Errors(std::string(kHead) + "caps:\n  - window: 7d\n    limit: 1\n"),
              HasSubstr("p.yaml:7:5: a cap needs an id"));
  EXPECT_THAT(Errors(std::string(kHead) + "categories2: {}\n"),
              HasSubstr("p.yaml:6:1: unknown key 'categories2' in the policy"));
  EXPECT_THAT(Errors(std::string(kHead) + "max_delay: forever\n"),
              HasSubstr("p.yaml:6:12: max_delay must be a duration such as 30m"));
  EXPECT_THAT(Errors("channels: [email]\ncategories:\n  marketing:\n    on_store_failure: pray\n"),
              HasSubstr("p.yaml:4:23: on_store_failure must be allow, deny or defer, not 'pray'"));
}

TEST(PolicyLoaderTest, AMissingFileIsNamed) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy = LoadPolicyFile("/nonexistent.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("/nonexistent.yaml"));
}

}  // namespace
}  // namespace sendgate::policy
