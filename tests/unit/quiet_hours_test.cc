// Quiet hours and holidays: allowed windows per day in the contact's zone, across midnight and
// both DST changes (Europe/Paris, America/New_York), the French public holidays, and retry_at
// when quiet hours and caps hold a message at once.
#include "service/core/quiet_hours.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_replace.h"
#include "service/core/decision.h"
#include "service/core/pressure.h"
#include "service/policy/time_zones.h"
#include "service/core/names.h"
#include "service/core/preferences.h"
#include "service/core/window.h"
#include "tests/unit/core_harness.h"

namespace sendgate::testing {
namespace {

using core::Outcome;
using core::ReasonCode;

absl::CivilDay Day(int y, int m, int d) { return absl::CivilDay(y, m, d); }

TEST(FrenchHolidaysTest, MatchTheOfficialDates2026To2030) {
  // service-public.fr, "Jours fériés": Easter Monday, Ascension and Whit Monday move with Easter.
  const std::vector<std::array<int, 3>> movable = {
      {2026, 4, 6},  {2026, 5, 14}, {2026, 5, 25}, {2027, 3, 29}, {2027, 5, 6},
      {2027, 5, 17}, {2028, 4, 17}, {2028, 5, 25}, {2028, 6, 5},  {2029, 4, 2},
      {2029, 5, 10}, {2029, 5, 21}, {2030, 4, 22}, {2030, 5, 30}, {2030, 6, 10}};
  for (int year = 2026; year <= 2030; ++year) {
    std::vector<absl::CivilDay> expected = {Day(year, 1, 1),   Day(year, 5, 1),  Day(year, 5, 8),
                                            Day(year, 7, 14),  Day(year, 8, 15), Day(year, 11, 1),
                                            Day(year, 11, 11), Day(year, 12, 25)};
    for (const auto& [y, m, d] : movable) {
      if (y == year) expected.push_back(Day(y, m, d));
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(core::FrenchPublicHolidays(year), expected) << year;
  }
  EXPECT_EQ(core::EasterSunday(2026), Day(2026, 4, 5));
  EXPECT_EQ(core::EasterSunday(2030), Day(2030, 4, 21));
}

core::QuietHours Rule(std::vector<int> days, std::vector<core::DayWindow> windows) {
  core::QuietHours rule{.id = "test"};
  for (int day : days) rule.allowed[day] = windows;
  return rule;
}

absl::TimeZone Zone(const char* name) { return *policy::FindTimeZone(name); }

absl::Time Local(const char* zone, int y, int m, int d, int h, int min = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, h, min), Zone(zone));
}

const std::vector<int> kMonToSat = {0, 1, 2, 3, 4, 5};
const core::DayWindow kEightToEight{8 * 60, 20 * 60};

TEST(QuietHoursTest, TheNightAndSundayWaitForTheNextOpening) {
  const core::QuietHours rule = Rule(kMonToSat, {kEightToEight});
  const char* paris = "Europe/Paris";
  // Tuesday 2026-11-24.
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 24, 12), Zone(paris)),
            Local(paris, 2026, 11, 24, 12));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 24, 20), Zone(paris)),
            Local(paris, 2026, 11, 25, 8));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 25, 2), Zone(paris)),
            Local(paris, 2026, 11, 25, 8));
  // Saturday evening, then Sunday: Monday 08:00.
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 28, 21), Zone(paris)),
            Local(paris, 2026, 11, 30, 8));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 29, 10), Zone(paris)),
            Local(paris, 2026, 11, 30, 8));
}

TEST(QuietHoursTest, SeveralWindowsADay) {
  // Phone canvassing (décret 2022-1313): Monday to Friday 10:00-13:00 and 14:00-20:00.
  const core::QuietHours rule = Rule({0, 1, 2, 3, 4}, {{10 * 60, 13 * 60}, {14 * 60, 20 * 60}});
  const char* paris = "Europe/Paris";
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 24, 13, 30), Zone(paris)),
            Local(paris, 2026, 11, 24, 14));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 24, 9), Zone(paris)),
            Local(paris, 2026, 11, 24, 10));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local(paris, 2026, 11, 27, 20), Zone(paris)),
            Local(paris, 2026, 11, 30, 10));  // Friday evening: Monday
}

TEST(QuietHoursTest, BothDstChangesInParisAndNewYork) {
  const core::QuietHours rule = Rule({0, 1, 2, 3, 4, 5, 6}, {kEightToEight});
  // Paris springs forward on 2026-03-29 (08:00 CEST is 06:00 UTC) and falls back on 2026-10-25
  // (08:00 CET is 07:00 UTC).
  const absl::TimeZone paris = Zone("Europe/Paris");
  EXPECT_EQ(core::NextAllowed(rule, {}, Local("Europe/Paris", 2026, 3, 28, 21), paris),
            absl::FromCivil(absl::CivilSecond(2026, 3, 29, 6, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local("Europe/Paris", 2026, 10, 24, 21), paris),
            absl::FromCivil(absl::CivilSecond(2026, 10, 25, 7, 0, 0), absl::UTCTimeZone()));
  // New York: 2026-03-08 (08:00 EDT is 12:00 UTC) and 2026-11-01 (08:00 EST is 13:00 UTC).
  const absl::TimeZone new_york = Zone("America/New_York");
  EXPECT_EQ(core::NextAllowed(rule, {}, Local("America/New_York", 2026, 3, 7, 22), new_york),
            absl::FromCivil(absl::CivilSecond(2026, 3, 8, 12, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(core::NextAllowed(rule, {}, Local("America/New_York", 2026, 10, 31, 22), new_york),
            absl::FromCivil(absl::CivilSecond(2026, 11, 1, 13, 0, 0), absl::UTCTimeZone()));
  // A window that opens in the skipped hour opens at the change: 02:30 on 2026-03-29 in Paris
  // does not exist; the window opens at 03:00 CEST (01:00 UTC).
  const core::QuietHours early = Rule({6}, {{2 * 60 + 30, 5 * 60}});
  EXPECT_EQ(core::NextAllowed(early, {}, Local("Europe/Paris", 2026, 3, 29, 0), paris),
            absl::FromCivil(absl::CivilSecond(2026, 3, 29, 1, 0, 0), absl::UTCTimeZone()));
}

TEST(QuietHoursTest, HolidaysAreClosedDays) {
  core::QuietHours rule = Rule(kMonToSat, {kEightToEight});
  rule.closed_on = {0, 1};
  const std::vector<core::HolidayCalendar> calendars = {
      {.name = "fr", .french_public_holidays = true},
      {.name = "shop", .dates = {Day(2026, 12, 26)}}};
  const char* paris = "Europe/Paris";
  // Thursday 24 December in the evening: Friday is Christmas, Saturday the shop's day off.
  EXPECT_EQ(core::NextAllowed(rule, calendars, Local(paris, 2026, 12, 24, 21), Zone(paris)),
            Local(paris, 2026, 12, 28, 8));
  // Ascension 2027 is Thursday 6 May.
  EXPECT_EQ(core::NextAllowed(rule, calendars, Local(paris, 2027, 5, 6, 9), Zone(paris)),
            Local(paris, 2027, 5, 7, 8));
}

const char* const kPolicy = R"yaml(
timezone: Europe/Paris
max_delay: 7d
channels: [email, sms]
categories:
  marketing: {}
  transactional: {exempt_from: [caps, quiet_hours]}
holidays:
  fr: {builtin: france}
quiet_hours:
  - id: sms-marketing-hours
    channels: [sms]
    allowed:
      mon-sat: ["08:00-20:00"]
    closed_on: [fr]
caps:
  - {id: sms-day, channels: [sms], window: 24h, limit: 1}
)yaml";

TestMessage Sms(std::string id, absl::Time at) {
  return TestMessage{.id = std::move(id), .channel = "sms", .send_at = at};
}

class QuietDecisionTest : public ::testing::Test {
 protected:
  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kPolicy);
  ContactHistory contact_;
};

TEST_F(QuietDecisionTest, AMessageAtNightWaitsForTheMorningAndIsNotCounted) {
  const core::Decision night = contact_.Decide(*policy_, Sms("a", Paris(2026, 11, 24, 22)));
  EXPECT_EQ(night.outcome, Outcome::kDefer);
  EXPECT_EQ(*night.retry_at, Paris(2026, 11, 25, 8));
  ASSERT_EQ(night.reasons.size(), 1u);
  EXPECT_EQ(night.reasons[0].code, ReasonCode::kQuietHours);
  EXPECT_EQ(night.reasons[0].rule_id, "sms-marketing-hours");
  EXPECT_THAT(night.reasons[0].message,
              ::testing::HasSubstr("Allowed mon-sat 08:00-20:00; closed on fr (Europe/Paris); "
                                   "next allowed at 2026-11-25 08:00 CET."));
  EXPECT_TRUE(contact_.history().main.empty());
  EXPECT_EQ(contact_.Decide(*policy_, Sms("a", Paris(2026, 11, 25, 8))).outcome, Outcome::kAllow);
}

TEST_F(QuietDecisionTest, RetryAtSatisfiesTheCapAndQuietHoursAtOnce) {
  // One SMS a rolling 24 h, SMS allowed 08:00-20:00 Monday to Saturday.
  EXPECT_EQ(contact_.Decide(*policy_, Sms("a", Paris(2026, 11, 23, 19))).outcome, Outcome::kAllow);
  const core::Decision second = contact_.Decide(*policy_, Sms("b", Paris(2026, 11, 24, 9)));
  EXPECT_EQ(second.outcome, Outcome::kDefer);
  EXPECT_EQ(*second.retry_at, Paris(2026, 11, 24, 19));  // room at 19:00, inside the window
  const core::Decision late =
      contact_.Decide(*policy_, Sms("c", Paris(2026, 11, 24, 19, 30)), Paris(2026, 11, 24, 19, 30));
  EXPECT_EQ(late.outcome, Outcome::kAllow);
  // The cap is full until Wednesday 19:30; asked at Tuesday 21:00 (closed): Wednesday 19:30.
  const core::Decision night = contact_.Decide(*policy_, Sms("d", Paris(2026, 11, 24, 21)));
  EXPECT_EQ(night.outcome, Outcome::kDefer);
  EXPECT_EQ(*night.retry_at, Paris(2026, 11, 25, 19, 30));
  ASSERT_EQ(night.reasons.size(), 2u);  // held by both
  EXPECT_EQ(night.reasons[0].code, ReasonCode::kCapReached);
  EXPECT_EQ(night.reasons[1].code, ReasonCode::kQuietHours);
  // Sent Wednesday 19:40 ...
  EXPECT_EQ(contact_.Decide(*policy_, Sms("e", Paris(2026, 11, 25, 19, 40))).outcome,
            Outcome::kAllow);
  // ... then asked at 19:50: full until Thursday 19:40, which the window allows.
  const core::Decision evening = contact_.Decide(*policy_, Sms("f", Paris(2026, 11, 25, 19, 50)));
  EXPECT_EQ(evening.outcome, Outcome::kDefer);
  EXPECT_EQ(*evening.retry_at, Paris(2026, 11, 26, 19, 40));
}

TEST_F(QuietDecisionTest, RoomFoundAfterClosingTimeWaitsForTheNextOpening) {
  // Sent Monday 19:59: room again Tuesday 19:59, a minute before closing time.
  EXPECT_EQ(contact_.Decide(*policy_, Sms("a", Paris(2026, 11, 23, 19, 59))).outcome,
            Outcome::kAllow);
  // Asked Tuesday at 19:00: room at 19:59, inside the window.
  EXPECT_EQ(*contact_.Decide(*policy_, Sms("b", Paris(2026, 11, 24, 19))).retry_at,
            Paris(2026, 11, 24, 19, 59));
  // Saturday 19:59 sent; room again Sunday 19:59, Sunday closed: Monday 08:00.
  ContactHistory weekend;
  EXPECT_EQ(weekend.Decide(*policy_, Sms("s", Paris(2026, 11, 28, 19, 59))).outcome,
            Outcome::kAllow);
  const core::Decision monday =
      weekend.Decide(*policy_, Sms("t", Paris(2026, 11, 28, 19, 59) + absl::Seconds(30)));
  EXPECT_EQ(monday.outcome, Outcome::kDefer);
  EXPECT_EQ(*monday.retry_at, Paris(2026, 11, 30, 8));
  EXPECT_THAT(monday.reasons, ::testing::SizeIs(2));  // the cap, then quiet hours
  EXPECT_EQ(monday.reasons[0].code, ReasonCode::kCapReached);
  EXPECT_EQ(monday.reasons[1].code, ReasonCode::kQuietHours);
}

TEST_F(QuietDecisionTest, PressureShowsTheNextOpeningPerChannel) {
  const core::Pressure night = core::PressureAt(*policy_, core::History{}, {},
                                                *policy::FindTimeZone("Europe/Paris"),
                                                Paris(2026, 11, 24, 22));
  ASSERT_EQ(night.channels.size(), 2u);
  EXPECT_EQ(night.channels[0].next_allowed, Paris(2026, 11, 24, 22));  // email: no quiet hours
  EXPECT_EQ(night.channels[1].next_allowed, Paris(2026, 11, 25, 8));   // sms: the morning
}

TEST_F(QuietDecisionTest, TooLateForTheMessageIsADenial) {
  TestMessage flash = Sms("a", Paris(2026, 11, 24, 21));
  flash.expires_at = Paris(2026, 11, 24, 23);
  const core::Decision decision = contact_.Decide(*policy_, flash);
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(decision.reasons[0].code, ReasonCode::kQuietHours);
  EXPECT_THAT(decision.reasons[0].message, ::testing::HasSubstr("too late for this message"));
}

TEST_F(QuietDecisionTest, ExemptCategoriesAndOtherChannelsAreNotHeld) {
  TestMessage receipt = Sms("r", Paris(2026, 11, 24, 23));
  receipt.category = "transactional";
  EXPECT_EQ(contact_.Decide(*policy_, receipt).outcome, Outcome::kAllow);
  TestMessage email{.id = "e", .send_at = Paris(2026, 11, 24, 23)};
  EXPECT_EQ(contact_.Decide(*policy_, email).outcome, Outcome::kAllow);
  // New York's evening is Paris's night: the contact's zone decides.
  TestMessage abroad = Sms("ny", Paris(2026, 11, 24, 23));
  abroad.zone = "America/New_York";  // 17:00 there
  EXPECT_EQ(contact_.Decide(*policy_, abroad).outcome, Outcome::kAllow);
}

// The example policies, each held to the rules it states.
std::shared_ptr<const core::Policy> ExamplePolicy(const std::string& name) {
  std::ifstream in(std::string(SENDGATE_SOURCE_DIR) + "/policies/" + name);
  return PolicyFromYaml(std::string(std::istreambuf_iterator<char>(in), {}));
}

absl::Time NewYork(int y, int m, int d, int h, int min = 0) {
  return Local("America/New_York", y, m, d, h, min);
}

TEST(ExamplePoliciesTest, UsTcpa) {
  const auto policy = ExamplePolicy("us-tcpa.yaml");
  auto text = [](std::string id, absl::Time at, std::vector<std::string> segments = {}) {
    return TestMessage{.id = std::move(id),
                       .channel = "sms",
                       .segments = std::move(segments),
                       .zone = "America/New_York",
                       .send_at = at};
  };
  ContactHistory ohio, florida, service;
  // 9 p.m. in New York: the next morning at 8 a.m.
  const core::Decision late = ohio.Decide(*policy, text("a", NewYork(2026, 11, 24, 21, 15)));
  EXPECT_EQ(late.outcome, Outcome::kDefer);
  EXPECT_EQ(*late.retry_at, NewYork(2026, 11, 25, 8));
  EXPECT_EQ(late.reasons.at(0).rule_id, "tcpa-calling-hours");
  EXPECT_EQ(ohio.Decide(*policy, text("b", NewYork(2026, 11, 24, 20, 30))).outcome,
            Outcome::kAllow);
  // Florida: 8 p.m., and 3 in 24 hours.
  const core::Decision evening =
      florida.Decide(*policy, text("c", NewYork(2026, 11, 24, 20, 30), {"us-fl"}));
  EXPECT_EQ(evening.reasons.at(0).rule_id, "florida-calling-hours");
  EXPECT_EQ(*evening.retry_at, NewYork(2026, 11, 25, 8));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        florida
            .Decide(*policy, text("f" + std::to_string(i), NewYork(2026, 11, 25, 9 + i), {"us-fl"}))
            .outcome,
        Outcome::kAllow);
  }
  const core::Decision fourth =
      florida.Decide(*policy, text("f3", NewYork(2026, 11, 25, 15), {"us-fl"}));
  EXPECT_EQ(fourth.outcome, Outcome::kDefer);
  EXPECT_EQ(*fourth.retry_at, NewYork(2026, 11, 26, 9));
  // Informational texts go out at any hour.
  TestMessage alert = text("fraud", NewYork(2026, 11, 24, 23, 30), {"us-fl"});
  alert.category = "informational";
  EXPECT_EQ(service.Decide(*policy, alert).outcome, Outcome::kAllow);
}

TEST(ExamplePoliciesTest, FrRetail) {
  const auto policy = ExamplePolicy("fr-retail.yaml");
  auto message = [](std::string id, std::string channel, absl::Time at) {
    return TestMessage{.id = std::move(id), .channel = std::move(channel), .send_at = at};
  };
  ContactHistory contact, caller, service;
  // A Sunday SMS waits for Monday 08:00; one on Christmas Eve evening for the 26th.
  EXPECT_EQ(*contact.Decide(*policy, message("s1", "sms", Paris(2026, 11, 29, 11))).retry_at,
            Paris(2026, 11, 30, 8));
  EXPECT_EQ(*contact.Decide(*policy, message("s2", "sms", Paris(2026, 12, 24, 20, 30))).retry_at,
            Paris(2026, 12, 26, 8));
  // Canvassing calls: not at lunch, not on Saturday, not on Ascension (14 May 2026).
  EXPECT_EQ(*caller.Decide(*policy, message("p1", "phone", Paris(2026, 11, 24, 13, 15))).retry_at,
            Paris(2026, 11, 24, 14));
  EXPECT_EQ(*caller.Decide(*policy, message("p2", "phone", Paris(2026, 11, 28, 11))).retry_at,
            Paris(2026, 11, 30, 10));
  ContactHistory ascension;
  EXPECT_EQ(*ascension.Decide(*policy, message("p3", "phone", Paris(2026, 5, 14, 11))).retry_at,
            Paris(2026, 5, 15, 10));
  // At most 4 calls in 30 days: the fifth, whose room comes beyond max_delay, is refused.
  for (int day = 0; day < 4; ++day) {
    EXPECT_EQ(caller
                  .Decide(*policy,
                          message("c" + std::to_string(day), "phone", Paris(2026, 12, 1 + day, 11)))
                  .outcome,
              Outcome::kAllow);
  }
  const core::Decision fifth =
      caller.Decide(*policy, message("c4", "phone", Paris(2026, 12, 7, 11)));
  EXPECT_EQ(fifth.outcome, Outcome::kDeny);
  EXPECT_EQ(fifth.reasons.at(0).rule_id, "phone-canvassing-30d");
  // A birthday SMS asked for on a Sunday evening cannot wait for Monday: denied.
  TestMessage birthday = message("bday", "sms", Paris(2026, 11, 29, 19));
  birthday.program = "birthday";
  EXPECT_EQ(contact.Decide(*policy, birthday).outcome, Outcome::kDeny);
  // A delivery-slot SMS on a Sunday night is a service message: it goes.
  TestMessage slot = message("delivery", "sms", Paris(2026, 11, 29, 22));
  slot.category = "service";
  EXPECT_EQ(service.Decide(*policy, slot).outcome, Outcome::kAllow);
  // A refused call is recorded as 60 days of phone silence: no canvassing call until then
  // (beyond the maximum delay: denied), while e-mail and SMS still go.
  ContactHistory refused;
  const absl::Time refusal = Paris(2026, 12, 1, 11);
  refused.preferences = core::Preferences{
      .version = 1,
      .channel_pauses = {{.channel = core::FieldId(core::Field::kChannel, "phone"),
                          .until = refusal + absl::Hours(24 * 60)}}};
  const core::Decision silent =
      refused.Decide(*policy, message("again", "phone", refusal + absl::Hours(24 * 3)));
  EXPECT_EQ(silent.outcome, Outcome::kDeny);
  EXPECT_EQ(silent.reasons.at(0).code, ReasonCode::kPaused);
  EXPECT_EQ(refused.Decide(*policy, message("mail", "email", refusal + absl::Hours(1))).outcome,
            Outcome::kAllow);
  EXPECT_EQ(
      refused.Decide(*policy, message("call", "phone", refusal + absl::Hours(24 * 62))).outcome,  // a Monday
      Outcome::kAllow);
  // Capacity: the SMS provider's 100 a second in 4 shards, the call centre's 500 a day.
  ASSERT_EQ(policy->capacity.size(), 2u);
  EXPECT_EQ(policy->capacity[0].limit, 100);
  EXPECT_EQ(policy->capacity[0].shards, 4);
  EXPECT_EQ(policy->capacity[0].interval.length, absl::Seconds(1));
  EXPECT_EQ(policy->capacity[1].limit, 500);
  EXPECT_EQ(policy->capacity[1].interval.kind, core::WindowKind::kDay);
}


// CalendarAt keeps the last calendars of each thread: whatever its cache holds, evicts or hits,
// each answer is the one BoundsAt computes afresh, for zones with and without DST, around a
// change of month and of DST, and for either first day of the week.
TEST(CalendarTest, CalendarAtAgreesWithBoundsAtWhateverItsCacheHolds) {
  const char* zones[] = {"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata",
                         "Australia/Sydney", "Pacific/Chatham", "America/Sao_Paulo",
                         "Asia/Tokyo", "Africa/Casablanca", "Europe/London"};
  const absl::Time instants[] = {absl::FromUnixSeconds(1'793'404'800),   // 2026-10-31T00:00Z
                                 absl::FromUnixSeconds(1'793'448'000),   // 2026-10-31T12:00Z
                                 absl::FromUnixSeconds(1'796'083'199)};  // 2026-11-30T23:59:59Z
  for (int round = 0; round < 3; ++round) {
    for (const absl::Time at : instants) {
      for (const char* name : zones) {
        absl::TimeZone zone;
        ASSERT_TRUE(absl::LoadTimeZone(name, &zone)) << name;
        for (absl::Weekday starts : {absl::Weekday::monday, absl::Weekday::sunday}) {
          const core::Calendar calendar = core::CalendarAt(at, zone, starts);
          for (const auto& [kind, bounds] :
               {std::pair{core::WindowKind::kDay, calendar.day},
                std::pair{core::WindowKind::kWeek, calendar.week},
                std::pair{core::WindowKind::kMonth, calendar.month}}) {
            const core::WindowBounds fresh = core::BoundsAt({.kind = kind}, at, zone, starts);
            EXPECT_EQ(bounds.start, fresh.start) << name << " " << at;
            EXPECT_EQ(bounds.end, fresh.end) << name << " " << at;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace sendgate::testing
