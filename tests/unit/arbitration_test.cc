// Arbitration rules of the decision engine, without Redis or gRPC: channel capacity (sharded
// counters in fixed intervals) and its retry_at with other constraints at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "service/core/decision.h"
#include "service/core/plan.h"
#include "service/policy/loader.h"
#include "tests/unit/core_harness.h"

namespace sendgate::testing {
namespace {

using core::Outcome;
using core::ReasonCode;
using ::testing::HasSubstr;

const char* const kCapacityPolicy = R"yaml(
timezone: Europe/Paris
channels: [email, sms, phone]
categories:
  marketing: {}
  service: {exempt_from: [caps, quiet_hours]}
holidays:
  fr: {builtin: france}
quiet_hours:
  - id: phone-hours
    channels: [phone]
    categories: [marketing]
    allowed: {mon-fri: ["10:00-13:00", "14:00-20:00"]}
    closed_on: [fr]
capacity:
  - id: sms-provider
    description: Our SMS provider takes 10 messages a second
    channels: [sms]
    interval: 1s
    limit: 10
    shards: 3
  - id: call-centre
    channels: [phone]
    categories: [marketing]
    interval: calendar day
    limit: 5
    shards: 1
)yaml";

// Contacts of one test, sharing the store's capacity counters.
class Audience {
 public:
  core::Decision Decide(const core::Policy& policy, TestMessage message,
                        std::optional<absl::Time> now = std::nullopt) {
    ContactHistory& contact = contacts_[message.contact];
    contact.capacity = &counters_;
    return contact.Decide(policy, message, now);
  }
  const core::CapacityCounters& counters() const { return counters_; }

 private:
  core::CapacityCounters counters_;
  std::map<std::string, ContactHistory> contacts_;
};

class CapacityTest : public ::testing::Test {
 protected:
  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kCapacityPolicy);
  Audience audience_;
  const absl::Time t0_ = Paris(2026, 11, 3, 11);  // a Tuesday, 11:00
};

TEST_F(CapacityTest, SharesAddUpToTheLimit) {
  const core::Capacity& sms = policy_->capacity[0];
  EXPECT_EQ(sms.ShareOf(0) + sms.ShareOf(1) + sms.ShareOf(2), 10);
  EXPECT_EQ(sms.ShareOf(0), 4);
  EXPECT_EQ(sms.ShareOf(2), 3);
  EXPECT_EQ(core::CapacityShard("same-contact", 3), core::CapacityShard("same-contact", 3));
}

// A blast of 200 SMS in one second: exactly what each shard may take goes (never more than
// the limit), the rest waits for the next second, when the counters start again.
TEST_F(CapacityTest, ARateDefersTheExcessToTheNextInterval) {
  std::map<int, int> allowed_per_shard;
  int allowed = 0;
  for (int i = 0; i < 200; ++i) {
    TestMessage sms{.id = absl::StrCat("s", i), .contact = absl::StrCat("c", i),
                    .channel = "sms", .send_at = t0_ + absl::Milliseconds(i)};
    const core::Decision decision = audience_.Decide(*policy_, sms);
    if (decision.outcome == Outcome::kAllow) {
      ++allowed;
      ++allowed_per_shard[core::CapacityShard(sms.contact, 3)];
      continue;
    }
    ASSERT_EQ(decision.outcome, Outcome::kDefer);
    EXPECT_EQ(*decision.retry_at, t0_ + absl::Seconds(1));
    ASSERT_EQ(decision.reasons.size(), 1u);
    EXPECT_EQ(decision.reasons[0].code, ReasonCode::kCapacity);
    EXPECT_EQ(decision.reasons[0].rule_id, "sms-provider");
    EXPECT_EQ(decision.reasons[0].used, decision.reasons[0].limit);
    EXPECT_THAT(decision.reasons[0].message,
                HasSubstr("Our SMS provider takes 10 messages a second: full for now"));
  }
  EXPECT_EQ(allowed, 10);
  for (int shard = 0; shard < 3; ++shard) {
    EXPECT_EQ(allowed_per_shard[shard], policy_->capacity[0].ShareOf(shard));
  }
  // The next second has room again.
  EXPECT_EQ(audience_
                .Decide(*policy_, {.id = "later", .contact = "c0", .channel = "sms",
                                   .send_at = t0_ + absl::Seconds(1)})
                .outcome,
            Outcome::kAllow);
}

// The call centre's 5 calls a day are full at 11:00 on Tuesday: the next call waits for the
// next day, and then for the canvassing hours of that day (10:00): retry_at satisfies both.
TEST_F(CapacityTest, ADailyVolumeDefersToTheNextDayAtItsOpening) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(audience_
                  .Decide(*policy_, {.id = absl::StrCat("call", i),
                                     .contact = absl::StrCat("p", i), .channel = "phone",
                                     .send_at = t0_ + absl::Minutes(i)})
                  .outcome,
              Outcome::kAllow);
  }
  const core::Decision sixth = audience_.Decide(
      *policy_, {.id = "call5", .contact = "p5", .channel = "phone", .send_at = t0_ + absl::Hours(1)});
  ASSERT_EQ(sixth.outcome, Outcome::kDefer);
  EXPECT_EQ(*sixth.retry_at, Paris(2026, 11, 4, 10));
  EXPECT_THAT(ReasonCodes(sixth),
              ::testing::ElementsAre(ReasonCode::kCapacity, ReasonCode::kQuietHours));
  // A service call is not counted by a rule for marketing calls.
  EXPECT_EQ(audience_
                .Decide(*policy_, {.id = "svc", .contact = "p6", .channel = "phone",
                                   .category = "service", .send_at = t0_ + absl::Hours(1)})
                .outcome,
            Outcome::kAllow);
  // On Friday evening the next day with room is a Saturday: the call waits for Monday 10:00
  // (quiet hours after the capacity's interval).
  const absl::Time friday = Paris(2026, 11, 6, 19);
  for (int i = 0; i < 5; ++i) {
    audience_.Decide(*policy_, {.id = absl::StrCat("fri", i), .contact = absl::StrCat("f", i),
                                .channel = "phone", .send_at = friday});
  }
  const core::Decision late = audience_.Decide(
      *policy_, {.id = "fri5", .contact = "f5", .channel = "phone", .send_at = friday});
  EXPECT_EQ(*late.retry_at, Paris(2026, 11, 9, 10));
}

TEST_F(CapacityTest, AFullIntervalPastTheMessagesExpiryIsADenial) {
  for (int i = 0; i < 5; ++i) {
    audience_.Decide(*policy_, {.id = absl::StrCat("call", i), .contact = absl::StrCat("p", i),
                                .channel = "phone", .send_at = t0_});
  }
  TestMessage urgent{.id = "urgent", .contact = "p9", .channel = "phone", .send_at = t0_,
                     .expires_at = t0_ + absl::Hours(3)};
  const core::Decision decision = audience_.Decide(*policy_, urgent);
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  ASSERT_FALSE(decision.reasons.empty());
  EXPECT_EQ(decision.reasons[0].code, ReasonCode::kCapacity);
  EXPECT_THAT(decision.reasons[0].message, HasSubstr("after the message expires"));
}

TEST_F(CapacityTest, ADeferredOrDryRunMessageTakesNoCapacity) {
  for (int i = 0; i < 4; ++i) {
    audience_.Decide(*policy_, {.id = absl::StrCat("call", i), .contact = absl::StrCat("p", i),
                                .channel = "phone", .send_at = t0_});
  }
  // Outside the canvassing hours: checked as at the opening, nothing counted.
  audience_.Decide(*policy_, {.id = "night", .contact = "p8", .channel = "phone",
                              .send_at = Paris(2026, 11, 3, 22)});
  int64_t counted = 0;
  for (const auto& [counter, value] : audience_.counters()) counted += value;
  EXPECT_EQ(counted, 4);
}

std::string CapacityErrors(const std::string& rules) {
  const std::string yaml = absl::StrCat(
      "channels: [email, sms]\ncategories: {marketing: {}}\n"
      "caps:\n  - {id: taken, window: 7d, limit: 3}\ncapacity:\n",
      rules);
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy = policy::ParsePolicy(yaml, "p.yaml");
  return policy.ok() ? "" : std::string(policy.status().message());
}

TEST(CapacityPolicyTest, ImpossibleOrMalformedRulesAreRefusedWithTheirPosition) {
  EXPECT_THAT(CapacityErrors("  - {id: a, channels: [sms], interval: 1s, limit: 0}\n"),
              HasSubstr("p.yaml:6:51: limit must be a whole number from 1 to"));
  EXPECT_THAT(CapacityErrors("  - {id: a, channels: [sms], interval: 1s, limit: 2, shards: 3}\n"),
              HasSubstr("p.yaml:6:62: 3 shards of a limit of 2 would leave some with no share"));
  EXPECT_THAT(CapacityErrors("  - {id: a, interval: 1s, limit: 2}\n"),
              HasSubstr("capacity 'a' needs the channels it limits"));
  EXPECT_THAT(CapacityErrors("  - {id: a, channels: [fax], interval: 1s, limit: 2}\n"),
              HasSubstr("p.yaml:6:24: channels: 'fax' is not declared"));
  EXPECT_THAT(CapacityErrors("  - {id: a, channels: [sms], interval: 0s, limit: 2}\n"),
              HasSubstr("p.yaml:6:40: interval must be a duration from 1s to 31d"));
  EXPECT_THAT(CapacityErrors("  - {id: a, channels: [sms], interval: rolling, limit: 2}\n"),
              HasSubstr("interval must be"));
  EXPECT_THAT(CapacityErrors("  - {id: taken, channels: [sms], interval: 1s, limit: 2}\n"),
              HasSubstr("p.yaml:6:10: id 'taken' is used twice"));
  EXPECT_THAT(CapacityErrors("  - {id: a, channels: [sms], interval: 1s, limit: 2, rate: 3}\n"),
              HasSubstr("unknown key 'rate' in capacity 'a'"));
  EXPECT_EQ(CapacityErrors("  - {id: a, channels: [sms], interval: calendar day, limit: 500}\n"), "");
}

}  // namespace
}  // namespace sendgate::testing

namespace sendgate::testing {
namespace {

const char* const kLookAheadPolicy = R"yaml(
timezone: Europe/Paris
max_delay: 3d
plan_grace: 6h
channels: [email, sms]
categories:
  marketing: {}
caps:
  - id: email-week
    channels: [email]
    window: 7d
    limit: 2
)yaml";

class LookAheadTest : public ::testing::Test {
 protected:
  TestMessage Email(std::string id, std::string campaign, int priority, absl::Time at) {
    return TestMessage{.id = std::move(id), .campaign = std::move(campaign),
                       .priority = priority, .send_at = at};
  }
  // Announces `message` as planned, at `announced`.
  void Announce(const TestMessage& message, absl::Time announced) {
    contact_.Plan({{.send = PlannedFor(*policy_, message, announced)}}, announced,
                  policy_->plan_grace);
  }

  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kLookAheadPolicy);
  ContactHistory contact_;
  const absl::Time t0_ = Paris(2026, 11, 2, 10);
};

// One email sent; a birthday (priority 90) is planned for tomorrow: a promotion (50) today may
// not take the last room of the week, and is denied (the room it needs comes after its
// maximum delay); the birthday itself goes, and its decision consumes its planned send.
TEST_F(LookAheadTest, APlannedSendOfHigherPriorityKeepsItsRoom) {
  ASSERT_EQ(contact_.Decide(*policy_, Email("sent", "welcome", 50, t0_)).outcome, Outcome::kAllow);
  const TestMessage birthday = Email("bday", "birthday", 90, t0_ + absl::Hours(24));
  Announce(birthday, t0_);
  const core::Decision promo =
      contact_.Decide(*policy_, Email("promo", "promo", 50, t0_ + absl::Hours(1)));
  EXPECT_EQ(promo.outcome, Outcome::kDeny);
  ASSERT_EQ(promo.reasons.size(), 1u);
  EXPECT_EQ(promo.reasons[0].code, ReasonCode::kLowerPriority);
  EXPECT_EQ(promo.reasons[0].rule_id, "email-week");
  EXPECT_EQ(promo.reasons[0].used, 1);
  EXPECT_EQ(promo.reasons[0].limit, 2);
  EXPECT_THAT(promo.reasons[0].message, HasSubstr("1 kept for planned sends that come first"));

  EXPECT_EQ(contact_.Decide(*policy_, birthday).outcome, Outcome::kAllow);
  EXPECT_TRUE(contact_.history().planned.empty());
  // Now full for real: a promotion is CAP_REACHED, not LOWER_PRIORITY.
  EXPECT_THAT(ReasonCodes(contact_.Decide(*policy_, Email("p2", "promo", 50, t0_ + absl::Hours(25)))),
              ::testing::ElementsAre(ReasonCode::kCapReached));
}

TEST_F(LookAheadTest, OnlyHigherPrioritiesAndTheirCapsAreKept) {
  Announce(Email("low", "loyalty", 40, t0_ + absl::Hours(5)), t0_);
  TestMessage sms{.id = "sms", .channel = "sms", .campaign = "flash", .priority = 99,
                  .send_at = t0_ + absl::Hours(5)};
  Announce(sms, t0_);
  // Neither a lower priority nor another channel's planned send holds a priority-50 email.
  EXPECT_EQ(contact_.Decide(*policy_, Email("a", "news", 50, t0_)).outcome, Outcome::kAllow);
  EXPECT_EQ(contact_.Decide(*policy_, Email("b", "news2", 50, t0_)).outcome, Outcome::kAllow);
}

// Equal priorities: the earliest announced wins. B, announced after A, may not take the room A
// needs; A may take the room B would need; a message nobody announced comes last.
TEST_F(LookAheadTest, OnATieTheEarliestAnnouncedWins) {
  ASSERT_EQ(contact_.Decide(*policy_, Email("sent", "welcome", 50, t0_)).outcome, Outcome::kAllow);
  const TestMessage a = Email("a", "campaign-a", 60, t0_ + absl::Hours(4));
  const TestMessage b = Email("b", "campaign-b", 60, t0_ + absl::Hours(2));
  Announce(a, t0_);
  Announce(b, t0_ + absl::Minutes(1));
  EXPECT_THAT(ReasonCodes(contact_.Decide(*policy_, Email("c", "campaign-c", 60, t0_ + absl::Hours(1)))),
              ::testing::ElementsAre(ReasonCode::kLowerPriority));
  const core::Decision second = contact_.Decide(*policy_, b);
  EXPECT_NE(second.outcome, Outcome::kAllow);
  EXPECT_THAT(ReasonCodes(second), ::testing::ElementsAre(ReasonCode::kLowerPriority));
  EXPECT_EQ(contact_.Decide(*policy_, a).outcome, Outcome::kAllow);
  // b's denial consumed its planned send too; a's allow its own.
  EXPECT_TRUE(contact_.history().planned.empty());
}

TEST_F(LookAheadTest, AnExpiredOrWithdrawnPlannedSendKeepsNothing) {
  ASSERT_EQ(contact_.Decide(*policy_, Email("sent", "welcome", 50, t0_)).outcome, Outcome::kAllow);
  const TestMessage vip = Email("vip", "vip", 90, t0_ + absl::Hours(1));
  Announce(vip, t0_);
  // Six hours after its planned time (the policy's plan_grace) it no longer counts.
  EXPECT_NE(contact_.Decide(*policy_, Email("x", "x", 50, t0_ + absl::Hours(7)),
                            t0_ + absl::Hours(7) - absl::Milliseconds(1))
                .outcome,
            Outcome::kAllow);
  EXPECT_EQ(contact_.Decide(*policy_, Email("y", "y", 50, t0_ + absl::Hours(7))).outcome,
            Outcome::kAllow);

  ContactHistory other;
  ASSERT_EQ(other.Decide(*policy_, Email("sent", "welcome", 50, t0_)).outcome, Outcome::kAllow);
  other.Plan({{.send = PlannedFor(*policy_, vip, t0_)}}, t0_, policy_->plan_grace);
  other.Plan({{.send = PlannedFor(*policy_, vip, t0_), .withdraw = true}}, t0_,
             policy_->plan_grace);
  EXPECT_TRUE(other.history().planned.empty());
  EXPECT_EQ(other.Decide(*policy_, Email("z", "z", 50, t0_)).outcome, Outcome::kAllow);
}

TEST_F(LookAheadTest, AContactKeepsAtMostItsBoundOfPlannedSendsTheNearestFirst) {
  std::vector<core::PlannedChange> changes;
  for (int i = 0; i <= core::kMaxPlannedSends; ++i) {
    changes.push_back({.send = PlannedFor(*policy_, Email("m", absl::StrCat("c", i), 50,
                                                          t0_ + absl::Hours(i + 1)),
                                          t0_)});
  }
  contact_.Plan(changes, t0_, policy_->plan_grace);
  ASSERT_EQ(contact_.history().planned.size(), static_cast<size_t>(core::kMaxPlannedSends));
  for (const core::PlannedSend& planned : contact_.history().planned) {
    EXPECT_LT(planned.at, t0_ + absl::Hours(core::kMaxPlannedSends + 1));
  }
  // Planned again, the same campaign and edition replaces its planned send.
  contact_.Plan({{.send = PlannedFor(*policy_, Email("m", "c0", 70, t0_ + absl::Hours(2)), t0_)}},
                t0_, policy_->plan_grace);
  EXPECT_EQ(contact_.history().planned.size(), static_cast<size_t>(core::kMaxPlannedSends));
  EXPECT_EQ(contact_.history().planned.back().priority, 70);
}

}  // namespace
}  // namespace sendgate::testing
