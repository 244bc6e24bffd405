// Every field of a DecideRequest: what is accepted, and the INVALID_ARGUMENT naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/text_format.h"
#include "service/api/request_validation.h"
#include "service/policy/loader.h"

namespace sendgate::api {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1795000000);

class RequestValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy = policy::LoadPolicyFile(std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml");
    ASSERT_TRUE(policy.ok());
    policy_ = *policy;
  }

  v1::DecideRequest Request(const std::string& text) {
    v1::DecideRequest request;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"(message_id: "m1" contact_id: "c1" channel: "email" )" + text, &request));
    return request;
  }

  // The error for a request, or "" when it is valid.
  std::string Error(const v1::DecideRequest& request) {
    absl::StatusOr<core::Message> message = MessageFromRequest(request, *policy_, kNow);
    if (message.ok()) return "";
    EXPECT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(message.status().message());
  }
  std::string Error(const std::string& text) { return Error(Request(text)); }

  std::shared_ptr<const core::Policy> policy_;
};

TEST_F(RequestValidationTest, AMinimalRequestGetsTheDefaults) {
  absl::StatusOr<core::Message> message = MessageFromRequest(Request(""), *policy_, kNow);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(policy_->categories[message->category].name, "marketing");
  EXPECT_EQ(message->weight, 1);
  EXPECT_EQ(message->priority, 50);
  EXPECT_EQ(message->send_at, kNow);
  EXPECT_EQ(message->timezone.name(), "Europe/Paris");
  EXPECT_FALSE(message->expires_at.has_value());
}

TEST_F(RequestValidationTest, IdsAreRequiredBoundedAndClean) {
  v1::DecideRequest request = Request("");
  request.clear_message_id();
  EXPECT_EQ(Error(request), "message_id: is required");
  request = Request("");
  request.clear_contact_id();
  EXPECT_EQ(Error(request), "contact_id: is required");
  request = Request("");
  request.set_contact_id(std::string(257, 'x'));
  EXPECT_EQ(Error(request), "contact_id: is 257 bytes long; the limit is 256");
  request.set_contact_id(std::string(256, 'x'));
  EXPECT_EQ(Error(request), "");
  for (const std::string& bad : {std::string("a\nb"), std::string("a\x01"), std::string("\x7f"),
                                std::string("\xc3"), std::string("\xc0\xaf")}) {
    request.set_contact_id(bad);
    EXPECT_EQ(Error(request), "contact_id: must be UTF-8 text without control characters");
  }
  request.set_contact_id("client-éè-中文");
  EXPECT_EQ(Error(request), "");
}

TEST_F(RequestValidationTest, NamesMustBeDeclaredByThePolicy) {
  v1::DecideRequest request = Request("");
  request.clear_channel();
  EXPECT_EQ(Error(request), "channel: is required");
  request.set_channel("fax");
  EXPECT_EQ(Error(request),
            "channel: unknown channel 'fax' (the policy declares: email, sms, push)");
  EXPECT_THAT(Error(R"(category: "promo")"), HasSubstr("category: unknown category 'promo'"));
  EXPECT_THAT(Error(R"(subscription: "daily")"),
              HasSubstr("subscription: unknown subscription 'daily'"));
  EXPECT_EQ(Error(R"(category: "transactional" subscription: "newsletter")"), "");
}

TEST_F(RequestValidationTest, WeightAndPriorityRanges) {
  EXPECT_EQ(Error("weight: 0"), "weight: must be from 1 to 1000, not 0");
  EXPECT_EQ(Error("weight: -3"), "weight: must be from 1 to 1000, not -3");
  EXPECT_EQ(Error("weight: 1001"), "weight: must be from 1 to 1000, not 1001");
  EXPECT_EQ(Error("weight: 1000"), "");
  EXPECT_EQ(Error("priority: -1"), "priority: must be from 0 to 100, not -1");
  EXPECT_EQ(Error("priority: 101"), "priority: must be from 0 to 100, not 101");
  EXPECT_EQ(Error("priority: 0"), "");
}

TEST_F(RequestValidationTest, FreeFormFieldsAreBounded) {
  v1::DecideRequest request = Request("");
  request.set_campaign_id(std::string(300, 'c'));
  EXPECT_EQ(Error(request), "campaign_id: is 300 bytes long; the limit is 256");
  request = Request("");
  request.set_program("on\tboarding");
  EXPECT_EQ(Error(request), "program: must be UTF-8 text without control characters");
  request = Request("");
  request.add_segments("");
  EXPECT_EQ(Error(request), "segments: must not contain an empty segment");
  request = Request("");
  for (int i = 0; i < 65; ++i) request.add_segments("s");
  EXPECT_EQ(Error(request), "segments: has 65 entries; the limit is 64");
}

TEST_F(RequestValidationTest, TimeZone) {
  EXPECT_EQ(Error(R"(timezone: "America/New_York")"), "");
  EXPECT_EQ(Error(R"(timezone: "UTC")"), "");
  EXPECT_EQ(Error(R"(timezone: "US/Eastern")"), "");  // a link of tzdata
  EXPECT_EQ(Error(R"(timezone: "Mars/Olympus")"),
            "timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Paris)");
}

// Only names of the table built at start: never a path (a device would block the thread, and
// every spelling would be cached forever), never a way to learn which files exist.
TEST_F(RequestValidationTest, ATimeZoneIsANameNeverAPath) {
  for (const char* spelling :
       {"/dev/ptmx", "/etc/localtime", "Europe/./Paris", "Europe//Paris", "Europe/../Europe/Paris",
        "../zoneinfo/Europe/Paris", "posix/Europe/Paris", "europe/paris", "Europe/Paris ",
        "localtime", "Fixed/UTC+01:00", "zone.tab", "tzdata.zi"}) {
    EXPECT_THAT(Error("timezone: \"" + std::string(spelling) + "\""),
                ::testing::StartsWith("timezone: unknown time zone"))
        << spelling;
  }
}

TEST_F(RequestValidationTest, Times) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  auto at = [](int64_t seconds) { return std::to_string(seconds); };
  EXPECT_EQ(Error("send_at { seconds: " + at(now + 3600) + " } expires_at { seconds: " +
                  at(now + 7200) + " }"),
            "");
  EXPECT_EQ(Error("send_at { seconds: " + at(now + 3600) + " } expires_at { seconds: " +
                  at(now + 3600) + " }"),
            "expires_at: must be after send_at (or now, when send_at is not set)");
  EXPECT_EQ(Error("expires_at { seconds: " + at(now - 60) + " }"),
            "expires_at: must be after send_at (or now, when send_at is not set)");
  EXPECT_THAT(Error("send_at { seconds: 0 }"),
              HasSubstr("send_at: is 1970-01-01T00:00:00+00:00, more than 366 days from now"));
  EXPECT_THAT(Error("send_at { seconds: " + at(now + 400 * 86400) + " }"),
              HasSubstr("more than 366 days from now"));
  EXPECT_EQ(Error("send_at { seconds: " + at(now) + " nanos: -1 }"),
            "send_at: has nanos outside 0 to 999999999");
}

TEST_F(RequestValidationTest, DeclaredProgramsGiveTheirDefaultsAndRefuseOthers) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy = policy::ParsePolicy(R"yaml(
channels: [email]
categories: {marketing: {}}
programs:
  abandoned-cart: {priority: 85, max_delay: 4h}
  birthday: {priority: 90, weight: 2, expires: end_of_local_day}
  loyalty: {}
)yaml",
                                                                                   "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  absl::StatusOr<core::Message> birthday =
      MessageFromRequest(Request(R"(program: "birthday")"), **policy, kNow);
  ASSERT_TRUE(birthday.ok()) << birthday.status();
  EXPECT_EQ(birthday->priority, 90);
  EXPECT_EQ(birthday->weight, 2);
  EXPECT_EQ((*policy)->programs[birthday->program].name, "birthday");
  absl::StatusOr<core::Message> given =
      MessageFromRequest(Request(R"(program: "birthday" priority: 10 weight: 1)"), **policy, kNow);
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->priority, 10);
  EXPECT_EQ(given->weight, 1);
  absl::StatusOr<core::Message> loyalty =
      MessageFromRequest(Request(R"(program: "loyalty")"), **policy, kNow);
  ASSERT_TRUE(loyalty.ok());
  EXPECT_EQ(loyalty->priority, 50);
  const absl::StatusOr<core::Message> typo =
      MessageFromRequest(Request(R"(program: "birthdya")"), **policy, kNow);
  EXPECT_EQ(std::string(typo.status().message()),
            "program: unknown program 'birthdya' (the policy declares: abandoned-cart, birthday, "
            "loyalty)");
  // A policy that declares no programs takes any program id, as before.
  EXPECT_EQ(Error(R"(program: "anything")"), "");
}

}  // namespace
}  // namespace sendgate::api
