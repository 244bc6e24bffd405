// Every rule type of the decision engine, without Redis or gRPC: caps over rolling and calendar
// windows, every scope, weights, segments, exemptions, replays, expiry and maximum delay.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "service/core/decision.h"
#include "service/core/plan.h"
#include "service/core/pressure.h"
#include "absl/strings/str_cat.h"
#include "service/policy/loader.h"
#include "service/policy/time_zones.h"
#include "tests/unit/core_harness.h"

namespace sendgate::testing {
namespace {

using core::Outcome;
using core::ReasonCode;

const char* const kPolicy = R"yaml(
version: test-1
timezone: Europe/Paris
max_delay: 7d
channels: [email, sms, push]
categories:
  marketing: {}
  transactional:
    exempt_from: [caps]
subscriptions: [newsletter, offers]
segments: [reactive, engaged, inactive, lapsed]
caps:
  - id: email-7d
    channels: [email]
    categories: [marketing]
    window: 7d
    limit: 3
    segments:
      inactive: 1
      lapsed: 2
  - id: all-7d
    window: 7d
    limit: 5
  - id: same-campaign-30d
    per: campaign
    window: 30d
    limit: 1
)yaml";

absl::Time T0() { return Paris(2026, 11, 2, 10, 0); }  // a Monday

TestMessage Email(std::string id, absl::Time at) {
  return TestMessage{.id = std::move(id), .send_at = at};
}

TestMessage Sms(std::string id, absl::Time at) {
  return TestMessage{.id = std::move(id), .channel = "sms", .send_at = at};
}

class CoreRulesTest : public ::testing::Test {
 protected:
  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kPolicy);
  ContactHistory contact_;
};

TEST_F(CoreRulesTest, RollingCapAllowsUpToTheLimitThenDefersToTheExactInstant) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        contact_.Decide(*policy_, Email("m" + std::to_string(i), T0() + absl::Hours(i))).outcome,
        Outcome::kAllow);
  }
  const core::Decision fourth = contact_.Decide(*policy_, Email("m3", T0() + absl::Hours(5)));
  EXPECT_EQ(fourth.outcome, Outcome::kDefer);
  ASSERT_TRUE(fourth.retry_at.has_value());
  EXPECT_EQ(*fourth.retry_at, T0() + absl::Hours(24 * 7));  // the oldest send leaves the window
  ASSERT_EQ(fourth.reasons.size(), 1u);
  EXPECT_EQ(fourth.reasons[0].code, ReasonCode::kCapReached);
  EXPECT_EQ(fourth.reasons[0].rule_id, "email-7d");
  EXPECT_EQ(fourth.reasons[0].used, 3);
  EXPECT_EQ(fourth.reasons[0].limit, 3);

  EXPECT_EQ(
      contact_.Decide(*policy_, Email("m3", *fourth.retry_at - absl::Milliseconds(1))).outcome,
      Outcome::kDefer);
  EXPECT_EQ(contact_.Decide(*policy_, Email("m3", *fourth.retry_at)).outcome, Outcome::kAllow);
}

TEST_F(CoreRulesTest, WeightsCountAgainstTheCapAndRetryWaitsForEnoughRoom) {
  TestMessage heavy = Email("heavy", T0());
  heavy.weight = 2;
  EXPECT_EQ(contact_.Decide(*policy_, heavy).outcome, Outcome::kAllow);
  EXPECT_EQ(contact_.Decide(*policy_, Email("light", T0() + absl::Hours(1))).outcome,
            Outcome::kAllow);  // 3 of 3 used
  TestMessage second_heavy = Email("heavy2", T0() + absl::Hours(2));
  second_heavy.weight = 2;
  const core::Decision decision = contact_.Decide(*policy_, second_heavy);
  EXPECT_EQ(decision.outcome, Outcome::kDefer);
  // Room for 2 units needs the heavy send (2 units) to leave; the light one alone is not enough.
  EXPECT_EQ(*decision.retry_at, T0() + absl::Hours(24 * 7));
  EXPECT_EQ(decision.reasons[0].used, 3);
}

TEST_F(CoreRulesTest, AMessageHeavierThanTheLimitIsDeniedForGood) {
  TestMessage huge = Email("huge", T0());
  huge.weight = 4;
  const core::Decision decision = contact_.Decide(*policy_, huge);
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_FALSE(decision.retry_at.has_value());
  EXPECT_NE(decision.reasons[0].message.find("weighs more than the limit"), std::string::npos);
}

TEST_F(CoreRulesTest, DeniesWhenRoomComesAfterTheMessageExpires) {
  for (int i = 0; i < 3; ++i) contact_.Decide(*policy_, Email("m" + std::to_string(i), T0()));
  TestMessage promo = Email("promo", T0() + absl::Hours(1));
  promo.expires_at = T0() + absl::Hours(48);
  const core::Decision decision = contact_.Decide(*policy_, promo);
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_NE(decision.reasons[0].message.find("after the message expires"), std::string::npos);
  // Room at exactly expires_at is still in time.
  TestMessage later = Email("later", T0() + absl::Hours(1));
  later.expires_at = T0() + absl::Hours(24 * 7);
  EXPECT_EQ(contact_.Decide(*policy_, later).outcome, Outcome::kDefer);
}

TEST_F(CoreRulesTest, DeniesWhenRoomIsBeyondTheMaximumDelay) {
  // Same campaign once per 30 days: room in 30 days is beyond max_delay (7 days).
  TestMessage first = Email("a", T0());
  first.campaign = "black-friday";
  EXPECT_EQ(contact_.Decide(*policy_, first).outcome, Outcome::kAllow);
  TestMessage again = Sms("b", T0() + absl::Hours(1));
  again.campaign = "black-friday";
  const core::Decision decision = contact_.Decide(*policy_, again);
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(decision.reasons[0].rule_id, "same-campaign-30d");
  EXPECT_NE(decision.reasons[0].message.find("maximum delay"), std::string::npos);
  // Another campaign is counted apart.
  TestMessage other = Sms("c", T0() + absl::Hours(1));
  other.campaign = "cyber-monday";
  EXPECT_EQ(contact_.Decide(*policy_, other).outcome, Outcome::kAllow);
}

// The example policy's same-campaign-30d counts per campaign and edition: a scenario's steps
// and a newsletter's weekly issues go (within the other caps), the same one twice does not.
TEST(ExamplePolicyTest, ScenarioStepsAndNewsletterIssuesPassTheSameEditionTwiceDoesNot) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy =
      policy::LoadPolicyFile(std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  ContactHistory contact;
  auto message = [](std::string id, std::string campaign, std::string edition, absl::Time at) {
    return TestMessage{.id = std::move(id), .campaign = std::move(campaign),
                       .edition = std::move(edition), .send_at = at};
  };
  // An abandoned cart's three reminders, an hour apart.
  for (int step = 1; step <= 3; ++step) {
    const core::Decision decision = contact.Decide(
        **policy, message(absl::StrCat("cart-", step), "abandoned-cart",
                          absl::StrCat("step-", step), T0() + absl::Hours(step)));
    EXPECT_EQ(decision.outcome, Outcome::kAllow) << "step " << step;
  }
  // The same step again (another message id) is the same edition: refused.
  const core::Decision again = contact.Decide(
      **policy, message("cart-2-again", "abandoned-cart", "step-2", T0() + absl::Hours(5)));
  EXPECT_EQ(again.outcome, Outcome::kDeny);
  std::vector<std::string> rules;
  for (const core::Reason& reason : again.reasons) rules.push_back(reason.rule_id);
  EXPECT_THAT(rules, ::testing::Contains("same-campaign-30d"));

  // A weekly newsletter: each issue goes, a week apart (3 marketing emails per 7 days).
  ContactHistory reader;
  for (int week = 0; week < 5; ++week) {
    const core::Decision decision = reader.Decide(
        **policy, message(absl::StrCat("news-", week), "newsletter",
                          absl::StrCat("2026-W", 45 + week), T0() + absl::Hours(24 * 7 * week)));
    EXPECT_EQ(decision.outcome, Outcome::kAllow) << "week " << week;
  }
  const core::Decision resent = reader.Decide(
      **policy, message("news-again", "newsletter", "2026-W47", T0() + absl::Hours(24 * 29)));
  EXPECT_EQ(resent.outcome, Outcome::kDeny);
  EXPECT_EQ(resent.reasons[0].rule_id, "same-campaign-30d");
  // A campaign without editions still goes once.
  EXPECT_EQ(reader.Decide(**policy, message("flash-1", "flash", "", T0() + absl::Hours(24 * 30)))
                .outcome,
            Outcome::kAllow);
  EXPECT_EQ(reader.Decide(**policy, message("flash-2", "flash", "", T0() + absl::Hours(24 * 30 + 1)))
                .outcome,
            Outcome::kDeny);
}

TEST_F(CoreRulesTest, AllChannelsCapCountsEveryChannelTogether) {
  contact_.Decide(*policy_, Email("e1", T0()));
  contact_.Decide(*policy_, Email("e2", T0()));
  contact_.Decide(*policy_, Sms("s1", T0()));
  contact_.Decide(*policy_, Sms("s2", T0()));
  EXPECT_EQ(contact_.Decide(*policy_, TestMessage{.id = "p1", .channel = "push", .send_at = T0()})
                .outcome,
            Outcome::kAllow);  // 5 of 5
  const core::Decision sixth =
      contact_.Decide(*policy_, TestMessage{.id = "p2", .channel = "push", .send_at = T0()});
  EXPECT_EQ(sixth.outcome, Outcome::kDefer);
  EXPECT_EQ(sixth.reasons[0].rule_id, "all-7d");
}

TEST_F(CoreRulesTest, EveryFullCapIsReported) {
  contact_.Decide(*policy_, Sms("s1", T0()));
  contact_.Decide(*policy_, Sms("s2", T0()));
  for (int i = 0; i < 3; ++i) contact_.Decide(*policy_, Email("e" + std::to_string(i), T0()));
  const core::Decision decision = contact_.Decide(*policy_, Email("e4", T0()));
  ASSERT_EQ(decision.reasons.size(), 2u);
  EXPECT_EQ(decision.reasons[0].rule_id, "email-7d");
  EXPECT_EQ(decision.reasons[1].rule_id, "all-7d");
  EXPECT_EQ(decision.reasons[1].used, 5);
}

TEST_F(CoreRulesTest, TransactionalIsNeitherCappedNorCounted) {
  for (int i = 0; i < 10; ++i) {
    TestMessage receipt = Email("t" + std::to_string(i), T0());
    receipt.category = "transactional";
    EXPECT_EQ(contact_.Decide(*policy_, receipt).outcome, Outcome::kAllow);
  }
  EXPECT_EQ(contact_.Decide(*policy_, Email("promo", T0())).outcome, Outcome::kAllow);
  // Exempt sends are kept apart, so that caps never scan them.
  EXPECT_EQ(contact_.history().exempt.size(), 10u);
  EXPECT_EQ(contact_.history().main.size(), 1u);
  // ... and a replay of one is still recognised.
  TestMessage again = Email("t3", T0());
  again.category = "transactional";
  EXPECT_TRUE(contact_.Decide(*policy_, again).replayed);
}

TEST_F(CoreRulesTest, HistoryIsTrimmedInChunks) {
  // Retention here is 30 days (the longest cap reach): a list is rewritten once its first
  // record is older than 30 + 30/8 days, and then everything older than 30 days goes.
  for (int day = 0; day < 40; ++day) {
    TestMessage receipt = Email("r" + std::to_string(day), T0() + absl::Hours(24 * day));
    receipt.category = "transactional";
    contact_.Decide(*policy_, receipt);
    const auto& exempt = contact_.history().exempt;
    EXPECT_GE(exempt.front().at,
              T0() + absl::Hours(24 * day) - absl::Hours(24 * 34) - absl::Hours(18))
        << "day " << day;
  }
  // Day 34 rewrote the list (its first record 34 days old, beyond 33.75), keeping days 4 to
  // 34; day 38 rewrote it again (day 4 then 34 days old), keeping days 8 to 38; 39 appended.
  EXPECT_EQ(contact_.history().exempt.front().at, T0() + absl::Hours(24 * 8));
  EXPECT_EQ(contact_.history().exempt.size(), 32u);
}

TEST_F(CoreRulesTest, SegmentLimitsApplyAndTheLowestWins) {
  TestMessage inactive = Email("i1", T0());
  inactive.segments = {"reactive", "inactive"};
  EXPECT_EQ(contact_.Decide(*policy_, inactive).outcome, Outcome::kAllow);
  inactive.id = "i2";
  const core::Decision decision = contact_.Decide(*policy_, inactive);
  EXPECT_EQ(decision.outcome, Outcome::kDefer);
  EXPECT_EQ(decision.reasons[0].limit, 1);

  ContactHistory both;
  TestMessage lapsed_inactive = Email("x1", T0());
  lapsed_inactive.segments = {"lapsed", "inactive"};
  both.Decide(*policy_, lapsed_inactive);
  lapsed_inactive.id = "x2";
  EXPECT_EQ(both.Decide(*policy_, lapsed_inactive).reasons[0].limit, 1);
}

TEST_F(CoreRulesTest, AReplayReturnsTheFirstDecisionAndIsNotCountedAgain) {
  EXPECT_EQ(contact_.Decide(*policy_, Email("same", T0())).outcome, Outcome::kAllow);
  const core::Decision replay = contact_.Decide(*policy_, Email("same", T0() + absl::Hours(1)));
  EXPECT_EQ(replay.outcome, Outcome::kAllow);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(contact_.history().main.size(), 1u);

  TestMessage huge = Email("huge", T0());
  huge.weight = 10;
  EXPECT_EQ(contact_.Decide(*policy_, huge).outcome, Outcome::kDeny);
  const core::Decision denied_again = contact_.Decide(*policy_, huge);
  EXPECT_EQ(denied_again.outcome, Outcome::kDeny);
  EXPECT_TRUE(denied_again.replayed);
  EXPECT_EQ(denied_again.reasons[0].code, ReasonCode::kCapReached);
}

TEST_F(CoreRulesTest, ADeferIsNotRememberedSoTheRetryIsDecidedAfresh) {
  for (int i = 0; i < 3; ++i) contact_.Decide(*policy_, Email("m" + std::to_string(i), T0()));
  const core::Decision deferred = contact_.Decide(*policy_, Email("late", T0() + absl::Hours(1)));
  ASSERT_EQ(deferred.outcome, Outcome::kDefer);
  const core::Decision retried = contact_.Decide(*policy_, Email("late", *deferred.retry_at));
  EXPECT_EQ(retried.outcome, Outcome::kAllow);
  EXPECT_FALSE(retried.replayed);
}

TEST_F(CoreRulesTest, AnExpiredMessageIsDenied) {
  TestMessage old = Email("old", T0());
  old.expires_at = T0() + absl::Minutes(5);
  const core::Decision decision = contact_.Decide(*policy_, old, T0() + absl::Minutes(10));
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(decision.reasons[0].code, ReasonCode::kExpired);
  EXPECT_TRUE(contact_.history().main.empty());
}

// A message cannot go out in the past: a request stamped days back is counted now, in the
// windows of now, so it cannot slip past a cap that is full this week.
TEST_F(CoreRulesTest, ABackdatedRequestIsCountedNow) {
  for (int i = 0; i < 3; ++i) contact_.Decide(*policy_, Email("w" + std::to_string(i), T0()));
  for (int days : {8, 30, 300}) {
    const absl::Time now = T0() + absl::Hours(1);
    const core::Decision decision = contact_.Decide(
        *policy_, Email("back-" + std::to_string(days), now - absl::Hours(24 * days)), now);
    EXPECT_EQ(decision.outcome, Outcome::kDeny) << days;  // room in 7 days, past max_delay
    EXPECT_EQ(decision.reasons[0].rule_id, "email-7d") << days;
  }
  // Within max_delay of its intended time, the same request is deferred to when room frees up.
  const absl::Time now = T0() + absl::Hours(1);
  const core::Decision deferred =
      contact_.Decide(*policy_, Email("an-hour-ago", now - absl::Hours(1)), now);
  EXPECT_EQ(deferred.outcome, Outcome::kDefer);
  EXPECT_EQ(*deferred.retry_at, T0() + absl::Hours(24 * 7));
  EXPECT_EQ(contact_.history().main.size(), 3u + 3u);  // three denials kept for replays
  // An allowed backdated send is recorded at now.
  ContactHistory fresh;
  EXPECT_EQ(fresh.Decide(*policy_, Email("b", T0() - absl::Hours(24 * 40)), T0()).outcome,
            Outcome::kAllow);
  EXPECT_EQ(fresh.history().main.at(0).at, T0());
}

// A retry that repeats its original send_at is decided at now: its retry_at, if any, is ahead.
TEST_F(CoreRulesTest, ARetryWithItsOriginalSendAtIsDecidedNow) {
  for (int i = 0; i < 3; ++i) {
    contact_.Decide(*policy_, Email("m" + std::to_string(i), T0() + absl::Hours(24 * i)));
  }
  const core::Decision first = contact_.Decide(*policy_, Email("late", T0() + absl::Hours(50)));
  ASSERT_EQ(first.outcome, Outcome::kDefer);
  EXPECT_EQ(*first.retry_at, T0() + absl::Hours(24 * 7));
  // Asked again later than that, with the same send_at: room has freed up, ALLOW.
  const absl::Time later = *first.retry_at + absl::Hours(1);
  EXPECT_EQ(contact_.Decide(*policy_, Email("late", T0() + absl::Hours(50)), later).outcome,
            Outcome::kAllow);
  // Full again; another message stamped in the past is deferred to after now, not before.
  const core::Decision again =
      contact_.Decide(*policy_, Email("later", T0() + absl::Hours(50)), later);
  ASSERT_EQ(again.outcome, Outcome::kDefer);
  EXPECT_GT(*again.retry_at, later);
}

TEST_F(CoreRulesTest, AnExpiredMessageIsDecidedBeforeTheStore) {
  const core::Message message = BuildMessage(*policy_, [] {
    TestMessage old = Email("old", T0());
    old.expires_at = T0() + absl::Minutes(5);
    return old;
  }());
  const auto start = core::StartDecision(*policy_, message, T0() + absl::Minutes(5));
  ASSERT_TRUE(std::holds_alternative<core::Decision>(start));
  EXPECT_EQ(std::get<core::Decision>(start).reasons[0].code, ReasonCode::kExpired);
  EXPECT_TRUE(std::holds_alternative<core::CheckPlan>(
      core::StartDecision(*policy_, message, T0() + absl::Minutes(4))));
}

TEST_F(CoreRulesTest, AFailModeDeferralNeverOutlivesTheMessage) {
  TestMessage soon = Email("soon", T0());
  soon.expires_at = T0() + absl::Seconds(30);  // store_failure_retry is 1 minute
  const core::Decision decision =
      core::FailModeDecision(*policy_, BuildMessage(*policy_, soon), T0(), "Redis is down");
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_FALSE(decision.retry_at.has_value());
  EXPECT_NE(decision.reasons[0].message.find("cannot wait that long"), std::string::npos);
}

// GetPressure's usage of a `per` cap: sends without that field are in no partition.
TEST_F(CoreRulesTest, PressureShowsNoPartitionForSendsWithoutTheField) {
  for (int i = 0; i < 3; ++i) contact_.Decide(*policy_, Email("plain" + std::to_string(i), T0()));
  TestMessage launch = Email("launch", T0());
  launch.campaign = "launch";
  contact_.Decide(*policy_, Sms("s", T0()));
  contact_.Decide(*policy_, [&] {
    TestMessage m = Sms("l", T0());
    m.campaign = "launch";
    return m;
  }());
  const core::Pressure pressure = core::PressureAt(*policy_, contact_.history(), {},
                                                   *policy::FindTimeZone("Europe/Paris"), T0());
  int campaign_rows = 0;
  for (const core::CapUsage& usage : pressure.caps) {
    if (policy_->caps[usage.cap].id != "same-campaign-30d") continue;
    ++campaign_rows;
    EXPECT_NE(usage.partition, "campaign=") << "a send without a campaign was shown";
    EXPECT_LE(usage.used, usage.limit);
  }
  EXPECT_EQ(campaign_rows, 1);
}

TEST_F(CoreRulesTest, FailModeFollowsTheCategory) {
  const core::Message promo = BuildMessage(*policy_, Email("p", T0()));
  const core::Decision deferred =
      core::FailModeDecision(*policy_, promo, T0(), "Redis did not answer in time");
  EXPECT_EQ(deferred.outcome, Outcome::kDefer);
  EXPECT_TRUE(deferred.degraded);
  EXPECT_EQ(*deferred.retry_at, T0() + absl::Minutes(1));
  EXPECT_EQ(deferred.reasons[0].code, ReasonCode::kStoreUnavailable);

  TestMessage receipt = Email("r", T0());
  receipt.category = "transactional";
  const core::Decision allowed =
      core::FailModeDecision(*policy_, BuildMessage(*policy_, receipt), T0(), "Redis is down");
  EXPECT_EQ(allowed.outcome, Outcome::kAllow);
  EXPECT_TRUE(allowed.degraded);
}

const char* const kScopes = R"yaml(
timezone: Europe/Paris
channels: [email, sms]
categories:
  marketing: {}
  service:
    exempt_from: [caps]
subscriptions: [newsletter, offers]
caps:
  - id: newsletter-weekly
    subscriptions: [newsletter]
    window: calendar week
    limit: 1
  - id: onboarding-daily
    programs: [onboarding]
    window: calendar day
    limit: 1
  - id: launch-once
    campaigns: [launch]
    window: 30d
    limit: 1
  - id: service-sms-guard
    categories: [service]
    channels: [sms]
    window: 1h
    limit: 2
  - id: per-channel-monthly
    per: [channel]
    window: calendar month
    limit: 4
)yaml";

TEST(CoreScopesTest, SubscriptionCapUsesTheCalendarWeek) {
  auto policy = PolicyFromYaml(kScopes);
  ContactHistory contact;
  TestMessage news{.id = "n1", .subscription = "newsletter", .send_at = Paris(2026, 11, 4, 9)};
  EXPECT_EQ(contact.Decide(*policy, news).outcome, Outcome::kAllow);
  news.id = "n2";
  news.send_at = Paris(2026, 11, 8, 23, 59);  // Sunday, same week
  const core::Decision decision = contact.Decide(*policy, news);
  EXPECT_EQ(decision.outcome, Outcome::kDefer);
  EXPECT_EQ(*decision.retry_at, Paris(2026, 11, 9));  // Monday 00:00 Paris
  // Other subscriptions are not limited by it.
  TestMessage offer{.id = "o1", .subscription = "offers", .send_at = Paris(2026, 11, 8, 23, 59)};
  EXPECT_EQ(contact.Decide(*policy, offer).outcome, Outcome::kAllow);
}

TEST(CoreScopesTest, ProgramCapUsesTheContactsCalendarDay) {
  auto policy = PolicyFromYaml(kScopes);
  ContactHistory contact;
  TestMessage step{.id = "s1", .program = "onboarding", .send_at = Paris(2026, 11, 4, 23, 30)};
  EXPECT_EQ(contact.Decide(*policy, step).outcome, Outcome::kAllow);
  step.id = "s2";
  step.send_at = Paris(2026, 11, 4, 23, 50);
  EXPECT_EQ(*contact.Decide(*policy, step).retry_at, Paris(2026, 11, 5));
  step.send_at = Paris(2026, 11, 5, 0, 10);  // a new day in Paris
  EXPECT_EQ(contact.Decide(*policy, step).outcome, Outcome::kAllow);
  // The same instant is still "yesterday" in New York: there the day window holds both.
  ContactHistory new_yorker;
  TestMessage ny{.id = "y1",
                 .program = "onboarding",
                 .zone = "America/New_York",
                 .send_at = Paris(2026, 11, 4, 23, 30)};
  new_yorker.Decide(*policy, ny);
  ny.id = "y2";
  ny.send_at = Paris(2026, 11, 5, 0, 10);
  EXPECT_EQ(new_yorker.Decide(*policy, ny).outcome, Outcome::kDefer);
}

TEST(CoreScopesTest, CampaignFilterAndCategoryNamedByACap) {
  auto policy = PolicyFromYaml(kScopes);
  ContactHistory contact;
  TestMessage launch{.id = "l1", .campaign = "launch", .send_at = Paris(2026, 11, 4, 9)};
  EXPECT_EQ(contact.Decide(*policy, launch).outcome, Outcome::kAllow);
  launch.id = "l2";
  EXPECT_EQ(contact.Decide(*policy, launch).reasons[0].rule_id, "launch-once");
  TestMessage other{.id = "x", .campaign = "other", .send_at = Paris(2026, 11, 4, 9)};
  EXPECT_EQ(contact.Decide(*policy, other).outcome, Outcome::kAllow);

  // An exempt category is still limited by a cap that names it.
  TestMessage code{
      .id = "c1", .channel = "sms", .category = "service", .send_at = Paris(2026, 11, 4, 9)};
  contact.Decide(*policy, code);
  code.id = "c2";
  contact.Decide(*policy, code);
  code.id = "c3";
  const core::Decision third = contact.Decide(*policy, code);
  EXPECT_EQ(third.outcome, Outcome::kDefer);
  EXPECT_EQ(third.reasons[0].rule_id, "service-sms-guard");
  EXPECT_EQ(third.reasons.size(), 1u);  // not per-channel-monthly: service is exempt there
}

TEST(CoreScopesTest, PerChannelCapCountsEachChannelApart) {
  auto policy = PolicyFromYaml(kScopes);
  ContactHistory contact;
  for (int i = 0; i < 4; ++i) {
    contact.Decide(
        *policy, TestMessage{.id = "e" + std::to_string(i), .send_at = Paris(2026, 11, 20 + i, 9)});
  }
  const core::Decision fifth =
      contact.Decide(*policy, TestMessage{.id = "e5", .send_at = Paris(2026, 11, 25, 9)});
  EXPECT_EQ(fifth.outcome, Outcome::kDefer);
  EXPECT_EQ(*fifth.retry_at, Paris(2026, 12, 1));
  EXPECT_EQ(contact
                .Decide(*policy,
                        TestMessage{.id = "s", .channel = "sms", .send_at = Paris(2026, 11, 25, 9)})
                .outcome,
            Outcome::kAllow);
}

TEST(CoreScopesTest, CalendarDayAcrossDaylightSavingChanges) {
  auto policy = PolicyFromYaml(kScopes);
  // 2026-03-29: Paris springs forward, the day lasts 23 hours.
  ContactHistory spring;
  TestMessage step{.id = "a", .program = "onboarding", .send_at = Paris(2026, 3, 29, 1, 30)};
  spring.Decide(*policy, step);
  EXPECT_EQ(spring.last_plan.caps[0].start, absl::FromUnixSeconds(1774738800));  // 03-28 23:00Z
  EXPECT_EQ(spring.last_plan.caps[0].end, absl::FromUnixSeconds(1774821600));    // 03-29 22:00Z
  EXPECT_EQ(spring.last_plan.caps[0].end - spring.last_plan.caps[0].start, absl::Hours(23));
  step.id = "b";
  step.send_at = Paris(2026, 3, 29, 23, 30);
  EXPECT_EQ(*spring.Decide(*policy, step).retry_at, Paris(2026, 3, 30));

  // 2026-10-25: Paris falls back, the day lasts 25 hours; 02:30 happens twice.
  ContactHistory autumn;
  step.id = "c";
  step.send_at = Paris(2026, 10, 25, 0, 30);
  autumn.Decide(*policy, step);
  EXPECT_EQ(autumn.last_plan.caps[0].end - autumn.last_plan.caps[0].start, absl::Hours(25));
  step.id = "d";
  step.send_at = absl::FromUnixSeconds(1792891800);  // 02:30 CET, the second one
  const core::Decision second = autumn.Decide(*policy, step);
  EXPECT_EQ(second.outcome, Outcome::kDefer);
  EXPECT_EQ(*second.retry_at, Paris(2026, 10, 26));
}

// Priority headroom: the last marketing email of the week is kept for priority 80 and above
// (an abandoned cart, a birthday), and a priority-95 message has the whole cap.
TEST(PriorityHeadroomTest, LowerPrioritiesLeaveTheReserveToHigherOnes) {
  const auto policy = PolicyFromYaml(R"yaml(
timezone: Europe/Paris
channels: [email]
categories: {marketing: {}}
caps:
  - id: email-week
    window: 7d
    limit: 4
    reserve: [{below_priority: 80, keep: 1}, {below_priority: 30, keep: 2}]
)yaml");
  ContactHistory contact;
  auto email = [&](std::string id, int priority, int minutes) {
    return TestMessage{
        .id = std::move(id), .priority = priority, .send_at = T0() + absl::Minutes(minutes)};
  };
  EXPECT_EQ(contact.Decide(*policy, email("a", 50, 0)).outcome, Outcome::kAllow);
  EXPECT_EQ(contact.Decide(*policy, email("b", 20, 1)).outcome, Outcome::kAllow);
  // Priority 20 may fill 2 of 4: full for it.
  const core::Decision low = contact.Decide(*policy, email("c", 20, 2));
  EXPECT_EQ(low.outcome, Outcome::kDefer);
  EXPECT_EQ(low.reasons.at(0).code, ReasonCode::kLowerPriority);
  EXPECT_EQ(low.reasons.at(0).used, 2);
  EXPECT_EQ(low.reasons.at(0).limit, 4);
  EXPECT_THAT(low.reasons.at(0).message,
              ::testing::HasSubstr("2 of 4 used, the last 2 kept for messages of higher priority "
                                   "than 20"));
  EXPECT_EQ(*low.retry_at, T0() + absl::Hours(24 * 7));  // when "a" leaves the window
  EXPECT_EQ(contact.Decide(*policy, email("d", 50, 3)).outcome, Outcome::kAllow);  // 3 of 4
  EXPECT_EQ(contact.Decide(*policy, email("e", 79, 4)).reasons.at(0).code,
            ReasonCode::kLowerPriority);
  EXPECT_EQ(contact.Decide(*policy, email("cart", 95, 5)).outcome, Outcome::kAllow);  // 4 of 4
  const core::Decision full = contact.Decide(*policy, email("birthday", 95, 6));
  EXPECT_EQ(full.outcome, Outcome::kDefer);
  EXPECT_EQ(full.reasons.at(0).code, ReasonCode::kCapReached);
}

// Nested tiers: with an ordered list, the first segment the contact is in gives its limit, so a
// contact both reactive and engaged gets the reactive tier, not fewer than an untagged one.
TEST(SegmentTiersTest, AnOrderedListAppliesTheFirstSegmentThatMatches) {
  const auto policy = PolicyFromYaml(R"yaml(
channels: [email]
categories: {marketing: {}}
segments: [reactive, engaged, inactive]
caps:
  - id: tiers
    window: 7d
    limit: 4
    segments: [{reactive: 5}, {engaged: 3}, {inactive: 1}]
  - id: lowest
    window: 30d
    limit: 40
    segments: {reactive: 30, engaged: 20}
)yaml");
  // The tiered cap's limit, then the lowest-wins cap's.
  auto limits = [&](std::vector<std::string> segments) {
    std::sort(segments.begin(), segments.end());
    return std::vector<int64_t>{core::EffectiveLimit(policy->caps[0], segments),
                                core::EffectiveLimit(policy->caps[1], segments)};
  };
  EXPECT_THAT(limits({"reactive", "engaged"}), ::testing::ElementsAre(5, 20));
  EXPECT_THAT(limits({"engaged", "inactive"}), ::testing::ElementsAre(3, 20));
  EXPECT_THAT(limits({"engaged"}), ::testing::ElementsAre(3, 20));
  EXPECT_THAT(limits({}), ::testing::ElementsAre(4, 40));
}

// max_delay per category: a same-day flash sale is denied by a full weekly cap, where an
// ordinary marketing message is deferred.
TEST(CategoryMaxDelayTest, AFlashSaleIsDeniedRatherThanDeferredByDays) {
  const auto policy = PolicyFromYaml(R"yaml(
max_delay: 7d
channels: [sms]
categories:
  marketing: {}
  flash-sale: {max_delay: 12h}
caps:
  - {id: sms-week, window: 7d, limit: 1}
)yaml");
  ContactHistory contact;
  EXPECT_EQ(contact.Decide(*policy, {.id = "a", .channel = "sms", .send_at = T0()}).outcome,
            Outcome::kAllow);
  const core::Decision flash = contact.Decide(
      *policy,
      {.id = "b", .channel = "sms", .category = "flash-sale", .send_at = T0() + absl::Hours(1)});
  EXPECT_EQ(flash.outcome, Outcome::kDeny);
  EXPECT_THAT(flash.reasons.at(0).message, ::testing::HasSubstr("maximum delay of 12 hours"));
  EXPECT_EQ(contact.Decide(*policy, {.id = "c", .channel = "sms", .send_at = T0() + absl::Hours(1)})
                .outcome,
            Outcome::kDefer);
}

// Programs: a birthday message is worthless after the contact's local day; an abandoned cart
// waits at most 4 hours.
TEST(ProgramsTest, ExpiryAtTheEndOfTheLocalDayAndTheProgramsMaxDelay) {
  const auto policy = PolicyFromYaml(R"yaml(
timezone: Europe/Paris
channels: [sms]
categories: {marketing: {}}
programs:
  birthday: {expires: end_of_local_day}
  abandoned-cart: {max_delay: 4h}
caps:
  - {id: sms-6h, window: 6h, limit: 1}
)yaml");
  ContactHistory contact;
  EXPECT_EQ(
      contact.Decide(*policy, {.id = "a", .channel = "sms", .send_at = Paris(2026, 11, 24, 20)})
          .outcome,
      Outcome::kAllow);
  // Room again at 02:00 tomorrow: too late for today's birthday.
  const core::Decision birthday = contact.Decide(
      *policy,
      {.id = "b", .channel = "sms", .program = "birthday", .send_at = Paris(2026, 11, 24, 21)});
  EXPECT_EQ(birthday.outcome, Outcome::kDeny);
  EXPECT_THAT(birthday.reasons.at(0).message,
              ::testing::HasSubstr("after the message expires at 2026-11-25 00:00 CET"));
  // Room at 02:00 is 5 hours after 21:00: beyond the cart's 4 hours, within the default 7 days.
  EXPECT_EQ(contact
                .Decide(*policy, {.id = "c",
                                  .channel = "sms",
                                  .program = "abandoned-cart",
                                  .send_at = Paris(2026, 11, 24, 21)})
                .outcome,
            Outcome::kDeny);
  EXPECT_EQ(
      contact.Decide(*policy, {.id = "d", .channel = "sms", .send_at = Paris(2026, 11, 24, 21)})
          .outcome,
      Outcome::kDefer);
}

// Exact rolling windows with scheduled sends: a cap of N per rolling W refuses a send only when
// some window of length W containing it would then hold more than N.
class ScheduledSendsTest : public ::testing::Test {
 protected:
  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(R"yaml(
timezone: Europe/Paris
max_delay: 60d
channels: [email]
categories: {marketing: {}}
caps:
  - {id: two-a-week, window: 7d, limit: 2}
)yaml");
  ContactHistory contact_;
  // Decided at T0() (the server's clock), sent at `at`: a later one is scheduled.
  core::Decision At(const std::string& id, absl::Time at, int weight = 1) {
    return contact_.Decide(*policy_, {.id = id, .weight = weight, .send_at = at}, T0());
  }
};

TEST_F(ScheduledSendsTest, ASendBetweenTwoOthersTwoWeeksApartFits) {
  EXPECT_EQ(At("first", T0() + absl::Hours(1)).outcome, Outcome::kAllow);
  EXPECT_EQ(At("last", T0() + absl::Hours(24 * 13)).outcome, Outcome::kAllow);
  // No 7-day window holds both: the one in the middle makes 2 in any window.
  const core::Decision middle = At("middle", T0() + absl::Hours(24 * 7));
  EXPECT_EQ(middle.outcome, Outcome::kAllow);
  // A fourth anywhere from day 1 to day 13 would make 3 in some window.
  const core::Decision fourth = At("fourth", T0() + absl::Hours(24 * 4));
  EXPECT_EQ(fourth.outcome, Outcome::kDefer);
  EXPECT_EQ(fourth.reasons.at(0).used, 2);
  // It fits once "middle" can no longer share a window with it: 7 days after it, when "last"
  // is still within reach but alone.
  EXPECT_EQ(*fourth.retry_at, T0() + absl::Hours(24 * 14));
}

// On random scheduled traffic, no window of 7 days ever holds more than the limit, and every
// refusal is justified by a window that the message would overfill.
TEST_F(ScheduledSendsTest, RandomScheduledTrafficNeverOverfillsAWindowAndIsNeverRefusedForNothing) {
  std::mt19937 random(11);
  const absl::Duration week = absl::Hours(24 * 7);
  std::vector<std::pair<absl::Time, int>> sent;
  // The weight of the heaviest 7-day window containing `at`, `extra` at `at` included.
  auto heaviest = [&](absl::Time at, int extra) {
    int best = 0;
    for (absl::Time start = at - week + absl::Minutes(1); start <= at;
         start += absl::Minutes(1)) {
      int sum = extra;
      for (const auto& [when, weight] : sent) {
        if (when >= start && when < start + week) sum += weight;
      }
      best = std::max(best, sum);
    }
    return best;
  };
  for (int step = 0; step < 60; ++step) {
    const absl::Time at =
        T0() + absl::Minutes(std::uniform_int_distribution<int>(0, 30 * 24 * 6)(random) * 10);
    const int weight = std::uniform_int_distribution<int>(1, 2)(random);
    const core::Decision decision = At("m" + std::to_string(step), at, weight);
    if (decision.outcome == Outcome::kAllow) {
      EXPECT_LE(heaviest(at, weight), 2) << "step " << step;
      sent.emplace_back(at, weight);
    } else {
      EXPECT_GT(heaviest(at, weight), 2) << "step " << step << ": refused for nothing";
    }
  }
  EXPECT_GE(sent.size(), 5u);  // about 8 fit in 30 days at 2 a week, with weights of 1 and 2
}

}  // namespace
}  // namespace sendgate::testing
