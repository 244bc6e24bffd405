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
  EXPECT_EQ(p.version, "default-2026-12-01");
  EXPECT_EQ(p.channels.size(), 3u);
  ASSERT_EQ(p.caps.size(), 4u);
  EXPECT_EQ(p.caps[0].id, "email-marketing-7d");
  EXPECT_EQ(p.caps[0].limit, 3);
  EXPECT_EQ(p.caps[0].segment_limits[0].segment, "inactive");
  EXPECT_EQ(p.caps[3].per, (std::vector<core::Field>{core::Field::kCampaign, core::Field::kEdition}));
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

TEST(PolicyLoaderTest, QuietHoursAndHolidaysLoad) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy =
      ParsePolicy(std::string(kHead) + R"yaml(holidays:
  fr: {builtin: france}
  shop: {dates: [2026-12-24, 2026-12-31]}
quiet_hours:
  - id: phone-hours
    channels: [sms]
    categories: [marketing]
    allowed:
      mon-fri: ["10:00-13:00", "14:00-20:00"]
      sat: ["10:00-12:00"]
    closed_on: [fr, shop]
)yaml",
                  "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const core::QuietHours& rule = (*policy)->quiet_hours.at(0);
  EXPECT_EQ(rule.allowed[0], (std::vector<core::DayWindow>{{600, 780}, {840, 1200}}));
  EXPECT_EQ(rule.allowed[5], (std::vector<core::DayWindow>{{600, 720}}));
  EXPECT_TRUE(rule.allowed[6].empty());
  EXPECT_EQ(rule.closed_on, (std::vector<int>{0, 1}));
  EXPECT_EQ(rule.description,
            "Allowed mon-fri 10:00-13:00, 14:00-20:00; sat 10:00-12:00; closed on fr; closed on "
            "shop");
  EXPECT_TRUE((*policy)->holidays[1].Contains(absl::CivilDay(2026, 12, 31)));
}

TEST(PolicyLoaderTest, QuietHoursMistakesAreReportedWithTheirPosition) {
  const std::string errors = Errors(std::string(kHead) + R"yaml(holidays:
  fr: {builtin: belgium}
  empty: {}
  bad: {dates: [2026-02-30]}
caps:
  - {id: dup, window: 1d, limit: 1}
quiet_hours:
  - id: dup
    channels: [fax]
    allowed:
      mon-fry: ["08:00-20:00"]
      tue: ["20:00-08:00", "08:00-12:00", "11:00-13:00", "25:00-26:00"]
    closed_on: [nowhere]
  - id: never
    allowed: {}
)yaml");
  for (const char* expected :
       {"p.yaml:7:17: unknown holiday calendar 'belgium' (builtin accepts: france)",
        "p.yaml:8:10: holiday calendar 'empty' has neither builtin nor dates",
        "p.yaml:9:17: a date must be YYYY-MM-DD, not '2026-02-30'",
        "p.yaml:13:9: id 'dup' is used twice",
        "p.yaml:14:16: 'fax' is not a declared channel",
        "p.yaml:16:7: 'mon-fry' is not a day or a range of days",
        "p.yaml:17:13: time window '20:00-08:00' ends before it starts; a window across "
        "midnight is two, such as 20:00-24:00 and 00:00-08:00 on the next day",
        "p.yaml:17:43: 11:00-13:00 overlaps 08:00-12:00 on tue",
        "p.yaml:17:58: a time window must be HH:MM-HH:MM such as 08:00-20:00, not '25:00-26:00'",
        "p.yaml:18:17: unknown holiday calendar 'nowhere' (declare it under holidays)",
        "p.yaml:20:14: quiet hours 'never' allow no time on any day: its messages could never "
        "go out"}) {
    EXPECT_THAT(errors, HasSubstr(expected));
  }
  EXPECT_THAT(errors, ::testing::Not(HasSubstr("'fr' has neither")));
}

TEST(PolicyLoaderTest, AReserveMustLeaveRoomBelowTheLimit) {
  const std::string errors = Errors(std::string(kHead) + R"yaml(caps:
  - id: week
    window: 7d
    limit: 2
    reserve: [{below_priority: 80, keep: 2}, {below_priority: 80, keep: 1}, {below_priority: 101, keep: 1}]
)yaml");
  EXPECT_THAT(errors, HasSubstr("p.yaml:10:42: a reserve of 2 is not below the cap's limit 2"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:10:46: two reserves below priority 80"));
  EXPECT_THAT(errors, HasSubstr("below_priority must be a whole number from 1 to 100, not '101'"));
}

TEST(PolicyLoaderTest, SegmentLimitsNeedDeclaredSegments) {
  EXPECT_THAT(Errors(std::string(kHead) + R"yaml(caps:
  - {id: week, window: 7d, limit: 2, segments: {inactive: 1}}
)yaml"),
              HasSubstr("p.yaml:7:48: the policy declares no segments: list them under the "
                        "top-level segments key"));
  const std::string errors = Errors(std::string(kHead) + R"yaml(segments: [reactive, engaged]
caps:
  - {id: week, window: 7d, limit: 2, segments: [{reactive: 3}, {engaged: 1, reactive: 2}, {reactive: 1}, {inactiv: 1}]}
)yaml");
  EXPECT_THAT(errors, HasSubstr("an ordered segments list holds one 'segment: limit' per item"));
  EXPECT_THAT(errors, HasSubstr("segment 'reactive' is given twice"));
  EXPECT_THAT(errors, HasSubstr("segment 'inactiv' is not declared (declared: reactive, engaged)"));
}

TEST(PolicyLoaderTest, ProgramMistakes) {
  const std::string errors = Errors(std::string(kHead) + R"yaml(programs:
  birthday: {priority: 101, expires: tomorrow, colour: blue}
  birthday: {}
)yaml");
  EXPECT_THAT(errors, HasSubstr("p.yaml:7:24: priority must be a whole number from 0 to 100"));
  EXPECT_THAT(errors, HasSubstr("expires accepts end_of_local_day, not 'tomorrow'"));
  EXPECT_THAT(errors, HasSubstr("unknown key 'colour' in program 'birthday'"));
  EXPECT_THAT(errors, HasSubstr("'birthday' is given twice in programs"));
  EXPECT_THAT(Errors(std::string(kHead) + R"yaml(programs: {birthday: {}}
caps:
  - {id: bday, programs: [birthdya], window: 1d, limit: 1}
)yaml"),
              HasSubstr("programs: 'birthdya' is not declared (declared: birthday)"));
}

TEST(PolicyLoaderTest, CallersSayWhatEachMayDeclareAndNothingElse) {
  auto policy = ParsePolicy(std::string(kHead) + R"yaml(callers:
  newsletter:
    categories: [marketing]
  receipts:
    categories: transactional
  support:
    dry_run: true
)yaml", "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const core::Policy& p = **policy;
  const int marketing = p.FindCategory("marketing");
  const int transactional = p.FindCategory("transactional");
  EXPECT_TRUE(p.CallerMayDeclare("newsletter", marketing, false).ok());
  const absl::Status refused = p.CallerMayDeclare("newsletter", transactional, false);
  EXPECT_TRUE(absl::IsPermissionDenied(refused));
  EXPECT_THAT(refused.message(), HasSubstr("category: caller 'newsletter' may not send "
                                           "'transactional'"));
  EXPECT_THAT(refused.message(), HasSubstr("lets it send: marketing"));
  EXPECT_TRUE(p.CallerMayDeclare("receipts", transactional, false).ok());
  EXPECT_THAT(p.CallerMayDeclare("newsletter", marketing, true).message(),
              HasSubstr("dry_run: caller 'newsletter' may not ask dry runs"));
  EXPECT_TRUE(p.CallerMayDeclare("support", transactional, true).ok());
  EXPECT_THAT(p.CallerMayDeclare("support", marketing, false).message(),
              HasSubstr("lets it send: nothing"));
  EXPECT_THAT(p.CallerMayDeclare("stranger", marketing, false).message(),
              HasSubstr("caller 'stranger' is not among the callers"));
  // No caller name (no authorization policy), or no callers in the policy: no restriction.
  EXPECT_TRUE(p.CallerMayDeclare("", transactional, true).ok());
  auto open = ParsePolicy(kHead, "p.yaml");
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE((*open)->CallerMayDeclare("stranger", transactional, true).ok());
}

TEST(PolicyLoaderTest, CallerMistakes) {
  const std::string errors = Errors(std::string(kHead) + R"yaml(callers:
  newsletter:
    categories: [marketing, promo]
    dry_run: maybe
    send: true
  "bad name": {}
)yaml");
  EXPECT_THAT(errors, HasSubstr("p.yaml:8:29: caller 'newsletter': unknown category 'promo'"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:9:14: dry_run must be true or false, not 'maybe'"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:10:5: unknown key 'send' in caller 'newsletter'"));
  EXPECT_THAT(errors, HasSubstr("p.yaml:11:3: caller 'bad name' must be 1 to 64"));
}

TEST(PolicyLoaderTest, AMissingFileIsNamed) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy = LoadPolicyFile("/nonexistent.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("/nonexistent.yaml"));
}

}  // namespace
}  // namespace sendgate::policy
