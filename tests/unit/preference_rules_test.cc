// The preference rules of a decision, without Redis or gRPC: opt-outs, blocked channels,
// consent under opt-in and opt-out regimes, pauses, the contact's own frequency, what each
// category ignores, the stored profile, and how updates change preferences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/core/decision.h"
#include "service/core/names.h"
#include "service/core/plan.h"
#include "service/core/preferences.h"
#include "tests/unit/core_harness.h"

namespace sendgate::testing {
namespace {

using core::Outcome;
using core::ReasonCode;

const char* const kPolicy = R"yaml(
version: prefs-1
timezone: Europe/Paris
max_delay: 7d
channels: [email, sms, push]
categories:
  marketing: {}
  transactional:
    exempt_from: [caps, opt_out, subscriptions, pause, contact_frequency]
subscriptions:
  newsletter: {regime: opt-in, channels: [email]}
  offers: {regime: opt-in, channels: [email, sms]}
  notifications: {regime: opt-out, channels: [push]}
segments: [reactive, inactive]
caps:
  - {id: email-week, channels: [email], window: calendar week, limit: 3}
)yaml";

absl::Time T0() { return Paris(2026, 11, 2, 10, 0); }  // a Monday

uint32_t Id(core::Field field, const std::string& name) { return core::FieldId(field, name); }
uint32_t Channel(const std::string& name) { return Id(core::Field::kChannel, name); }
uint32_t Subscription(const std::string& name) { return Id(core::Field::kSubscription, name); }

class PreferenceRulesTest : public ::testing::Test {
 protected:
  core::Decision Decide(TestMessage message, std::optional<absl::Time> now = std::nullopt) {
    if (message.send_at == absl::Time()) message.send_at = T0();
    return contact_.Decide(*policy_, message, now);
  }

  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kPolicy);
  ContactHistory contact_;
};

TEST_F(PreferenceRulesTest, AGlobalOptOutStopsAllMarketingButNotTransactional) {
  contact_.preferences = core::Preferences{.version = 1, .global_opt_out = true};
  const core::Decision promo = Decide({.id = "p"});
  EXPECT_EQ(promo.outcome, Outcome::kDeny);
  EXPECT_EQ(ReasonCodes(promo), std::vector<ReasonCode>{ReasonCode::kOptedOut});
  EXPECT_EQ(Decide({.id = "t", .category = "transactional"}).outcome, Outcome::kAllow);
  // The denial is recorded: a replay gets it with its code.
  const core::Decision replay = Decide({.id = "p"});
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.reasons[0].code, ReasonCode::kOptedOut);
}

TEST_F(PreferenceRulesTest, AHardBounceBlocksEverythingAnUnsubscribeOnlyMarketing) {
  contact_.preferences = core::Preferences{
      .version = 1,
      .blocks = {{.channel = Channel("email"), .reason = core::BlockReason::kHardBounce},
                 {.channel = Channel("sms"), .reason = core::BlockReason::kUnsubscribed}}};
  EXPECT_EQ(ReasonCodes(Decide({.id = "a", .category = "transactional"})),
            std::vector<ReasonCode>{ReasonCode::kChannelBlocked});
  EXPECT_EQ(ReasonCodes(Decide({.id = "b", .channel = "sms"})),
            std::vector<ReasonCode>{ReasonCode::kChannelBlocked});
  EXPECT_EQ(Decide({.id = "c", .channel = "sms", .category = "transactional"}).outcome,
            Outcome::kAllow);
  EXPECT_EQ(Decide({.id = "d", .channel = "push"}).outcome, Outcome::kAllow);
  EXPECT_THAT(Decide({.id = "e"}).reasons[0].message, ::testing::HasSubstr("hard bounce"));
}

TEST_F(PreferenceRulesTest, ConsentFollowsTheSubscriptionsRegime) {
  // Opt-in: no record is no.
  EXPECT_EQ(ReasonCodes(Decide({.id = "n1", .subscription = "newsletter"})),
            std::vector<ReasonCode>{ReasonCode::kNotOptedIn});
  // Opt-out: no record is yes.
  EXPECT_EQ(Decide({.id = "p1", .channel = "push", .subscription = "notifications"}).outcome,
            Outcome::kAllow);
  contact_.preferences = core::Preferences{
      .version = 2,
      .subscriptions = {{Subscription("newsletter"), Channel("email"), true},
                        {Subscription("offers"), Channel("email"), false},
                        {Subscription("notifications"), Channel("push"), false}}};
  EXPECT_EQ(Decide({.id = "n2", .subscription = "newsletter"}).outcome, Outcome::kAllow);
  EXPECT_EQ(ReasonCodes(Decide({.id = "o1", .subscription = "offers"})),
            std::vector<ReasonCode>{ReasonCode::kUnsubscribed});
  // Offers on SMS has no record: opt-in, so no.
  EXPECT_EQ(ReasonCodes(Decide({.id = "o2", .channel = "sms", .subscription = "offers"})),
            std::vector<ReasonCode>{ReasonCode::kNotOptedIn});
  EXPECT_EQ(ReasonCodes(Decide({.id = "p2", .channel = "push", .subscription = "notifications"})),
            std::vector<ReasonCode>{ReasonCode::kUnsubscribed});
  // Transactional messages ignore subscriptions.
  EXPECT_EQ(
      Decide({.id = "t", .category = "transactional", .subscription = "offers"}).outcome,
      Outcome::kAllow);
}

TEST_F(PreferenceRulesTest, APauseDefersToItsEndOrDeniesWhenThatIsTooLate) {
  contact_.preferences = core::Preferences{.version = 1, .pause_until = T0() + absl::Hours(48)};
  const core::Decision paused = Decide({.id = "a"});
  EXPECT_EQ(paused.outcome, Outcome::kDefer);
  EXPECT_EQ(*paused.retry_at, T0() + absl::Hours(48));
  EXPECT_EQ(ReasonCodes(paused), std::vector<ReasonCode>{ReasonCode::kPaused});
  TestMessage soon{.id = "b", .expires_at = T0() + absl::Hours(24)};
  const core::Decision expired_first = Decide(soon);
  EXPECT_EQ(expired_first.outcome, Outcome::kDeny);
  EXPECT_EQ(expired_first.reasons[0].code, ReasonCode::kPaused);
  EXPECT_EQ(Decide({.id = "t", .category = "transactional"}).outcome, Outcome::kAllow);
  EXPECT_EQ(Decide({.id = "c", .send_at = T0() + absl::Hours(49)}).outcome, Outcome::kAllow);
}

// A pause of one channel (60 days of phone silence after a refusal, say): that channel's
// marketing waits, the other channels and exempt messages go; both pauses are reported.
TEST_F(PreferenceRulesTest, APauseOfOneChannelHoldsOnlyThatChannel) {
  contact_.preferences = core::Preferences{
      .version = 1, .channel_pauses = {{.channel = Channel("sms"), .until = T0() + absl::Hours(72)}}};
  const core::Decision paused = Decide({.id = "s", .channel = "sms"});
  EXPECT_EQ(paused.outcome, Outcome::kDefer);
  EXPECT_EQ(*paused.retry_at, T0() + absl::Hours(72));
  ASSERT_EQ(paused.reasons.size(), 1u);
  EXPECT_EQ(paused.reasons[0].code, ReasonCode::kPaused);
  EXPECT_EQ(paused.reasons[0].rule_id, "sms");
  EXPECT_THAT(paused.reasons[0].message, ::testing::StartsWith("The contact paused sms until"));
  EXPECT_EQ(Decide({.id = "e"}).outcome, Outcome::kAllow);
  EXPECT_EQ(Decide({.id = "t", .channel = "sms", .category = "transactional"}).outcome,
            Outcome::kAllow);
  contact_.preferences->pause_until = T0() + absl::Hours(24);
  EXPECT_EQ(ReasonCodes(Decide({.id = "s2", .channel = "sms"})),
            (std::vector<ReasonCode>{ReasonCode::kPaused, ReasonCode::kPaused}));
}

TEST_F(PreferenceRulesTest, TheContactsOwnFrequencyOnlyLowersTheCaps) {
  // The company allows 3 emails a calendar week; the contact wants 1.
  contact_.preferences = core::Preferences{
      .version = 1,
      .frequency = {{.channel = Channel("email"), .limit = 1,
                     .window = {.kind = core::WindowKind::kWeek}}}};
  EXPECT_EQ(Decide({.id = "a"}).outcome, Outcome::kAllow);
  const core::Decision second = Decide({.id = "b", .send_at = T0() + absl::Hours(1)});
  EXPECT_EQ(second.outcome, Outcome::kDefer);
  EXPECT_EQ(*second.retry_at, Paris(2026, 11, 9));
  ASSERT_EQ(second.reasons.size(), 1u);
  EXPECT_EQ(second.reasons[0].code, ReasonCode::kContactFrequency);
  EXPECT_EQ(second.reasons[0].used, 1);
  EXPECT_EQ(second.reasons[0].limit, 1);
  EXPECT_EQ(second.reasons[0].rule_id, "email");
  // Transactional sends neither count nor are limited by it.
  EXPECT_EQ(Decide({.id = "t", .category = "transactional"}).outcome, Outcome::kAllow);

  // A contact wanting more than the company allows still gets the company's cap.
  ContactHistory generous;
  generous.preferences = core::Preferences{
      .version = 1, .frequency = {{.channel = Channel("email"), .limit = 10,
                                   .window = {.kind = core::WindowKind::kRolling,
                                              .length = absl::Hours(24 * 7)}}}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(generous.Decide(*policy_, {.id = "g" + std::to_string(i), .send_at = T0()}).outcome,
              Outcome::kAllow);
  }
  const core::Decision capped = generous.Decide(*policy_, {.id = "g3", .send_at = T0()});
  EXPECT_EQ(capped.reasons[0].code, ReasonCode::kCapReached);
}

TEST_F(PreferenceRulesTest, EveryReasonIsReportedAndTheFirstThatCannotBeMetNamesTheDenial) {
  contact_.preferences = core::Preferences{.version = 1,
                                           .global_opt_out = true,
                                           .pause_until = T0() + absl::Hours(5)};
  const core::Decision decision = Decide({.id = "a", .subscription = "newsletter"});
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(ReasonCodes(decision), (std::vector<ReasonCode>{ReasonCode::kOptedOut,
                                                       ReasonCode::kNotOptedIn,
                                                       ReasonCode::kPaused}));
  EXPECT_EQ(contact_.history().main.back().denied_code,
            static_cast<uint8_t>(ReasonCode::kOptedOut));
}

TEST_F(PreferenceRulesTest, AForgottenContactThatHadOptedOutStaysSuppressed) {
  const core::Preferences before{
      .version = 4,
      .global_opt_out = true,
      .subscriptions = {{Subscription("newsletter"), Channel("email"), true},
                        {Subscription("offers"), Channel("sms"), false}},
      .timezone = "Europe/Paris"};
  const std::optional<core::Preferences> entry = core::SuppressionOf(before);
  ASSERT_TRUE(entry.has_value());
  EXPECT_TRUE(entry->suppressed);
  EXPECT_EQ(entry->subscriptions.size(), 1u);  // the opt-out only
  EXPECT_TRUE(entry->timezone.empty());        // nothing else is kept
  EXPECT_FALSE(core::SuppressionOf(core::Preferences{.version = 3}).has_value());

  contact_.preferences = entry;
  EXPECT_EQ(ReasonCodes(Decide({.id = "a"})), std::vector<ReasonCode>{ReasonCode::kSuppressed});

  // Brought back by an import that opts it in: still suppressed. By the contact itself: not.
  core::Preferences back = *entry;
  core::PreferenceChanges import{.global_opt_out = false,
                                 .subscriptions = {{Subscription("newsletter"), Channel("email"),
                                                    true}}};
  core::Apply(*policy_, import, core::ConsentSource::kImport, back);
  EXPECT_TRUE(back.suppressed);
  core::Apply(*policy_, core::PreferenceChanges{.global_opt_out = false},
              core::ConsentSource::kPreferenceCentre, back);
  EXPECT_FALSE(back.suppressed);
}

TEST_F(PreferenceRulesTest, AnUpdateReportsWhatChangedAndNothingWhenNothingDoes) {
  core::Preferences preferences;
  const core::PreferenceChanges changes{
      .global_opt_out = true,
      .subscriptions = {{Subscription("newsletter"), Channel("email"), true}},
      .block = {{.channel = Channel("sms"), .reason = core::BlockReason::kComplaint}},
      .pause_until = T0(),
      .timezone = "America/New_York",
      .segments = std::vector<std::string>{"reactive"}};
  const std::vector<core::AppliedChange> applied =
      core::Apply(*policy_, changes, core::ConsentSource::kApi, preferences);
  EXPECT_EQ(applied.size(), 6u);
  EXPECT_EQ(applied[1],
            (core::AppliedChange{"subscription newsletter on email", "none", "opted in"}));
  EXPECT_EQ(applied[2], (core::AppliedChange{"channel sms", "not blocked", "blocked (complaint)"}));
  // The same update again changes nothing: it is not stored (an import sent twice is harmless).
  EXPECT_TRUE(core::Apply(*policy_, changes, core::ConsentSource::kApi, preferences).empty());
  // Clearing is expressible.
  const std::vector<core::AppliedChange> cleared = core::Apply(
      *policy_,
      core::PreferenceChanges{.unblock = {Channel("sms")}, .clear_pause = true, .timezone = ""},
      core::ConsentSource::kApi, preferences);
  EXPECT_EQ(cleared.size(), 3u);
  EXPECT_TRUE(preferences.blocks.empty());
  const core::ChannelPause phone{.channel = Channel("sms"), .until = T0() + absl::Hours(24 * 60)};
  EXPECT_EQ(core::Apply(*policy_, core::PreferenceChanges{.pause_channels = {phone}},
                        core::ConsentSource::kSupport, preferences),
            (std::vector<core::AppliedChange>{
                {"pause of sms", "none", "2027-01-01T09:00:00.000Z"}}));
  EXPECT_EQ(core::Apply(*policy_, core::PreferenceChanges{.resume_channels = {Channel("sms")}},
                        core::ConsentSource::kSupport, preferences)
                .size(),
            1u);
  EXPECT_TRUE(preferences.channel_pauses.empty());
  EXPECT_FALSE(preferences.pause_until.has_value());
  EXPECT_TRUE(preferences.timezone.empty());
}

TEST_F(PreferenceRulesTest, APlanMadeWithAnotherProfileIsSentBack) {
  core::Message message = BuildMessage(*policy_, {.id = "a", .send_at = T0()});
  message.stored_timezone = "";  // the request left it out; no stored one known
  core::CheckPlan plan = core::PlanCheck(*policy_, message, T0());
  const core::Preferences stored{.version = 1, .timezone = "America/New_York"};
  core::CheckResult result = core::EvaluateCheck(plan, core::History{}, &stored);
  EXPECT_EQ(result.outcome, core::CheckOutcome::kProfileChanged);
  EXPECT_EQ(result.profile.timezone, "America/New_York");
  // Planned with it, the check goes through; a request that gave its zone is never sent back.
  message.stored_timezone = "America/New_York";
  plan = core::PlanCheck(*policy_, message, T0());
  EXPECT_EQ(core::EvaluateCheck(plan, core::History{}, &stored).outcome,
            core::CheckOutcome::kAllowed);
  message.stored_timezone.reset();
  plan = core::PlanCheck(*policy_, message, T0());
  EXPECT_EQ(core::EvaluateCheck(plan, core::History{}, &stored).outcome,
            core::CheckOutcome::kAllowed);
}

}  // namespace
}  // namespace sendgate::testing
