// The Redis store against a real redis-server on a free port: decide.lua agrees with the C++
// statement of the rules (core/history.h) on random traffic, caps hold exactly under
// concurrency, and the store survives a lost function library, a killed Redis and a frozen one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "service/core/decision.h"
#include "service/core/history.h"
#include "service/core/names.h"
#include "service/core/plan.h"
#include "service/policy/time_zones.h"
#include "service/store/cluster_router.h"
#include "service/store/decide_call.h"
#include "service/store/history_codec.h"
#include "service/store/lua_library.h"
#include "service/store/preferences_codec.h"
#include "service/store/redis_store.h"
#include "service/store/script_contract.h"
#include "service/store/slots.h"
#include "service/store/store_error.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"
#include "tests/unit/core_harness.h"

namespace sendgate::testing {
namespace {

const char* const kPolicy = R"yaml(
timezone: Europe/Paris
max_delay: 7d
idempotency_window: 2d
channels: [email, sms, push]
categories:
  marketing: {}
  transactional: {exempt_from: [caps]}
subscriptions: [newsletter, offers]
segments: [reactive, inactive, engaged]
caps:
  - {id: email-7d, channels: [email], categories: [marketing], window: 7d, limit: 3,
     segments: {inactive: 1}}
  - {id: sms-day, channels: [sms], window: calendar day, limit: 1}
  - {id: all-7d, window: 7d, limit: 5}
  - {id: campaign-30d, per: campaign, window: 30d, limit: 1}
  - {id: edition-30d, per: [campaign, edition], window: 30d, limit: 1}
  - {id: newsletter-week, subscriptions: [newsletter], window: calendar week, limit: 1}
  - {id: program-month, per: [program, channel], window: calendar month, limit: 2}
  - {id: transactional-sms-guard, categories: [transactional], channels: [sms], window: 1h, limit: 3}
capacity:
  - {id: sms-rate, channels: [sms], interval: 3d, limit: 4, shards: 2}
  - {id: push-week, channels: [push], categories: [transactional], interval: calendar week,
     limit: 2}
)yaml";

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { WaitUntilHealthy(); }

  void WaitUntilHealthy() {
    for (int i = 0; i < 500 && !store_->healthy(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(store_->healthy());
  }

  core::CheckPlan Plan(const TestMessage& message, std::optional<absl::Time> now = std::nullopt) {
    return core::PlanCheck(*policy_, BuildMessage(*policy_, message),
                           now.value_or(message.send_at));
  }

  absl::StatusOr<core::CheckResult> Check(const core::CheckPlan& plan,
                                          absl::Duration timeout = absl::Seconds(5)) {
    std::promise<absl::StatusOr<core::CheckResult>> answer;
    store_->Check(plan, absl::Now() + timeout,
                  [&](absl::StatusOr<core::CheckResult> result) { answer.set_value(result); });
    return answer.get_future().get();
  }

  core::CheckOutcome Outcome(const TestMessage& message) {
    absl::StatusOr<core::CheckResult> result = Check(Plan(message));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->outcome : core::CheckOutcome::kDenied;
  }

  absl::Status PlanSends(const std::string& contact, const std::vector<core::PlannedChange>& changes,
                         absl::Time now) {
    std::promise<absl::Status> answer;
    store_->PlanSends(contact, changes, now, policy_->plan_grace, absl::Now() + absl::Seconds(5),
                      [&](absl::Status status) { answer.set_value(status); });
    return answer.get_future().get();
  }

  absl::StatusOr<bool> Cancel(const std::string& contact, const std::string& message_id) {
    std::promise<absl::StatusOr<bool>> answer;
    store_->Cancel(contact, message_id, absl::Now() + absl::Seconds(5),
                   [&](absl::StatusOr<bool> result) { answer.set_value(result); });
    return answer.get_future().get();
  }

  core::History StoredHistory(const std::string& contact) {
    std::promise<absl::StatusOr<core::History>> answer;
    store_->ReadHistory(contact, absl::Now() + absl::Seconds(5),
                        [&](absl::StatusOr<core::History> history) { answer.set_value(history); });
    absl::StatusOr<core::History> history = answer.get_future().get();
    EXPECT_TRUE(history.ok()) << history.status();
    return history.value_or(core::History{});
  }

  // redis-cli `command` on the Redis that serves its key (command[1]).
  virtual std::string KeyCli(const std::vector<std::string>& command) {
    return redis_.Cli(command);
  }

  int64_t Integer(const std::vector<std::string>& command) {
    int64_t value = -1;
    EXPECT_TRUE(absl::SimpleAtoi(KeyCli(command), &value)) << KeyCli(command);
    return value;
  }

  // Capacity counter `counter`'s value (0: absent) once it is `expected`, or after 2 s: on a
  // cluster, a decision not allowed gives its unit back after its answer.
  int64_t SettledCounter(const std::string& counter, int64_t expected) {
    int64_t value = -1;
    for (int i = 0; i < 200 && value != expected; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const std::string stored = KeyCli({"GET", store::CapacityKey(counter)});
      value = stored.empty() ? 0 : std::stoll(stored);
    }
    return value;
  }

  void ExpectTheScriptAgreesWithTheReference();
  void ExpectConcurrentContactsTakeExactlyTheCapacity();

  RedisServer redis_;
  std::atomic<int> library_reloads_{0};
  std::unique_ptr<store::RedisStore> store_ = std::make_unique<store::RedisStore>(
      store::RedisStoreOptions{
          .connection = {.host = "127.0.0.1", .port = redis_.port()},
          .connections = 2,
          .events = {.on_library_reload = [this] { ++library_reloads_; }}});
  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kPolicy);
  // A candidate for shadow mode: other limits, a cap more, one less.
  std::shared_ptr<const core::Policy> candidate_ = PolicyFromYaml(absl::StrReplaceAll(
      kPolicy, {{"window: 7d, limit: 3", "window: 7d, limit: 2"},
                {"id: all-7d, window: 7d, limit: 5", "id: all-3d, window: 3d, limit: 2"},
                {"  - {id: campaign-30d, per: campaign, window: 30d, limit: 1}\n", ""}}));
  const absl::Time t0_ = Paris(2026, 11, 2, 10);
};

TEST_F(RedisStoreTest, CapsHoldExactly) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Outcome({.id = "e" + std::to_string(i), .send_at = t0_ + absl::Minutes(i)}),
              core::CheckOutcome::kAllowed);
  }
  absl::StatusOr<core::CheckResult> fourth = Check(Plan({.id = "e3", .send_at = t0_ + absl::Hours(1)}));
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->outcome, core::CheckOutcome::kDeferred);
  EXPECT_EQ(fourth->retry_at, t0_ + absl::Hours(24 * 7));
  EXPECT_EQ(fourth->caps[0].used, 3);
  EXPECT_EQ(StoredHistory("c1").main.size(), 3u);
}

void ExpectSameResult(const core::CheckResult& actual, const core::CheckResult& expected,
                      int step) {
  EXPECT_EQ(actual.outcome, expected.outcome) << "step " << step;
  if (actual.outcome == core::CheckOutcome::kReplayAllowed ||
      actual.outcome == core::CheckOutcome::kReplayDenied) {
    EXPECT_EQ(actual.replay_at, expected.replay_at) << "step " << step;
    EXPECT_EQ(actual.replay_code, expected.replay_code) << "step " << step;
    return;
  }
  if (actual.outcome == core::CheckOutcome::kProfileChanged) {
    EXPECT_EQ(actual.profile.timezone, expected.profile.timezone) << "step " << step;
    EXPECT_EQ(actual.profile.segments, expected.profile.segments) << "step " << step;
    return;
  }
  EXPECT_EQ(actual.retry_at, expected.retry_at) << "step " << step;
  EXPECT_EQ(actual.deny_code, expected.deny_code) << "step " << step;
  EXPECT_EQ(actual.verdicts, expected.verdicts) << "step " << step;
  ASSERT_EQ(actual.caps.size(), expected.caps.size()) << "step " << step;
  for (size_t i = 0; i < actual.caps.size(); ++i) {
    EXPECT_EQ(actual.caps[i].used, expected.caps[i].used) << "step " << step << " cap " << i;
    EXPECT_EQ(actual.caps[i].room_at, expected.caps[i].room_at) << "step " << step << " cap " << i;
    EXPECT_EQ(actual.caps[i].planned, expected.caps[i].planned) << "step " << step << " cap " << i;
  }
  ASSERT_EQ(actual.capacity.size(), expected.capacity.size()) << "step " << step;
  for (size_t i = 0; i < actual.capacity.size(); ++i) {
    EXPECT_EQ(actual.capacity[i].used, expected.capacity[i].used) << "step " << step;
    EXPECT_EQ(actual.capacity[i].room_at, expected.capacity[i].room_at) << "step " << step;
  }
}

// decide.lua and core/history.cc state the same rules: on random traffic for a few contacts,
// every answer and every stored history must be identical.
TEST_F(RedisStoreTest, TheScriptAgreesWithTheReferenceOnRandomTraffic) {
  ExpectTheScriptAgreesWithTheReference();
}

void RedisStoreTest::ExpectTheScriptAgreesWithTheReference() {
  std::mt19937 random(20261123);
  auto pick = [&](std::vector<std::string> options) {
    return options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(random)];
  };
  std::map<std::string, core::History> reference;
  core::CapacityCounters counters;
  absl::Time now = t0_;
  std::map<core::CheckOutcome, int> seen;
  int expired = 0, shadowed = 0, shadow_differs = 0, capacity_full = 0, held_for_planned = 0;
  for (int step = 0; step < 1500; ++step) {
    now += absl::Minutes(std::uniform_int_distribution<int>(1, 240)(random));
    if (step % 5 == 0) {  // a campaign tool announces (or withdraws) planned sends
      const std::string contact = pick({"alice", "bob", "chloé"});
      std::vector<core::PlannedChange> changes;
      for (int i = std::uniform_int_distribution<int>(1, 3)(random); i > 0; --i) {
        TestMessage planned{
            .channel = pick({"email", "email", "sms", "push"}),
            .campaign = pick({"c1", "c2", "c3", "c4"}),
            .edition = pick({"", "w1"}),
            .priority = std::uniform_int_distribution<int>(3, 7)(random) * 10,
            .send_at = now + absl::Minutes(std::uniform_int_distribution<int>(-120, 2880)(random))};
        changes.push_back({.send = PlannedFor(*policy_, planned, now),
                           .withdraw = std::bernoulli_distribution(0.2)(random)});
      }
      ASSERT_TRUE(PlanSends(contact, changes, now).ok());
      core::PlanSends(changes, now, policy_->plan_grace, reference[contact].planned);
      ASSERT_EQ(StoredHistory(contact), reference[contact]) << "step " << step;
    }
    TestMessage message{
        .id = "m" + std::to_string(std::uniform_int_distribution<int>(0, 1200)(random)),
        .contact = pick({"alice", "bob", "chloé"}),
        .channel = pick({"email", "email", "sms", "push"}),
        .category = pick({"marketing", "marketing", "marketing", "transactional"}),
        .subscription = pick({"", "", "newsletter", "offers"}),
        .program = pick({"", "onboarding", "loyalty"}),
        .campaign = pick({"", "", "c1", "c2", "c3"}),
        .edition = pick({"", "", "w1", "w2"}),
        .weight = std::uniform_int_distribution<int>(1, 3)(random),
        .priority = std::uniform_int_distribution<int>(3, 7)(random) * 10,
        .segments = {pick({"reactive", "inactive", "engaged"})},
        .zone = pick({"Europe/Paris", "America/New_York", "Asia/Tokyo"}),
        .send_at = now + absl::Minutes(std::uniform_int_distribution<int>(-30, 600)(random))};
    if (step % 7 == 0) message.expires_at = message.send_at + absl::Hours(30);
    if (step % 11 == 0) message.expires_at = now - absl::Minutes(1);  // expired
    if (message.expires_at && *message.expires_at <= message.send_at) {
      message.send_at = *message.expires_at - absl::Minutes(10);
    }

    core::History& history = reference[message.contact];
    std::variant<core::Decision, core::CheckPlan> start =
        core::StartDecision(*policy_, BuildMessage(*policy_, message), now);
    if (std::holds_alternative<core::Decision>(start)) {  // expired: decided without the store
      ++expired;
      continue;
    }
    core::CheckPlan plan = std::get<core::CheckPlan>(start);
    // Every other step carries a candidate policy's plan (shadow mode), evaluated by the
    // script on the state before the record, as the reference does.
    std::optional<core::CheckResult> expected_shadow;
    if (step % 2 == 1) {
      std::variant<core::Decision, core::CheckPlan> candidate =
          core::StartDecision(*candidate_, BuildMessage(*candidate_, message), now);
      if (auto* candidate_plan = std::get_if<core::CheckPlan>(&candidate)) {
        expected_shadow = core::EvaluateCheck(*candidate_plan, history, nullptr, &counters);
        plan.shadow = std::make_shared<const core::CheckPlan>(std::move(*candidate_plan));
        ++shadowed;
      }
    }
    const core::CheckResult expected = core::EvaluateCheck(plan, history, nullptr, &counters);
    history = core::HistoryAfter(plan, expected, history);
    core::CountCapacity(plan, expected, counters);
    for (const core::CapResult& counter : expected.capacity) capacity_full += counter.full();
    for (const core::CapResult& cap : expected.caps) held_for_planned += cap.planned > 0;
    absl::StatusOr<core::CheckResult> actual = Check(plan);
    ASSERT_TRUE(actual.ok()) << actual.status();
    ExpectSameResult(*actual, expected, step);
    const bool replay = expected.outcome == core::CheckOutcome::kReplayAllowed ||
                        expected.outcome == core::CheckOutcome::kReplayDenied;
    if (expected_shadow && !replay) {
      ASSERT_NE(actual->shadow, nullptr) << "step " << step;
      ExpectSameResult(*actual->shadow, *expected_shadow, step);
      shadow_differs += actual->shadow->outcome != actual->outcome;
    } else {
      EXPECT_EQ(actual->shadow, nullptr) << "step " << step;
    }
    ASSERT_EQ(StoredHistory(message.contact), history) << "step " << step;
    for (const core::CapacityCheck& check : plan.capacity) {
      EXPECT_EQ(SettledCounter(check.counter, counters[check.counter]), counters[check.counter])
          << "step " << step << " " << check.counter;
    }
    ++seen[expected.outcome];
  }
  // The traffic reached every kind of answer, and the candidate often answered otherwise.
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_GT(expired, 0);
  EXPECT_GT(shadowed, 500);
  EXPECT_GT(shadow_differs, 50);
  EXPECT_GT(capacity_full, 20);
  EXPECT_GT(held_for_planned, 50);
}

const char* const kPreferencePolicy = R"yaml(
timezone: Europe/Paris
max_delay: 3d
idempotency_window: 2d
channels: [email, sms, push]
categories:
  marketing: {}
  transactional: {exempt_from: [caps, subscriptions, pause]}
  service: {exempt_from: [caps, opt_out, subscriptions, pause, contact_frequency]}
subscriptions:
  newsletter: {regime: opt-in}
  offers: {regime: opt-out}
caps:
  - {id: email-7d, channels: [email], categories: [marketing], window: 7d, limit: 3}
  - {id: all-week, window: calendar week, limit: 4}
)yaml";

// Random stored preferences for a contact: every field, with values in the small ranges the
// random traffic uses, so that each rule fires often.
core::Preferences RandomPreferences(std::mt19937& random, absl::Time now, int64_t version) {
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(random); };
  auto among = [&](std::vector<std::string> options) {
    return options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(random)];
  };
  core::Preferences p{.version = version, .global_opt_out = chance(0.15), .suppressed = chance(0.1)};
  if (chance(0.3)) p.pause_until = now + absl::Hours(std::uniform_int_distribution<int>(-24, 120)(random));
  for (const char* subscription : {"newsletter", "offers"}) {
    for (const char* channel : {"email", "sms", "push"}) {
      if (chance(0.3)) {
        p.subscriptions.push_back({core::FieldId(core::Field::kSubscription, subscription),
                                   core::FieldId(core::Field::kChannel, channel), chance(0.5)});
      }
    }
  }
  for (const char* channel : {"email", "sms", "push"}) {
    const uint32_t id = core::FieldId(core::Field::kChannel, channel);
    if (chance(0.2)) {
      p.channel_pauses.push_back(
          {id, now + absl::Hours(std::uniform_int_distribution<int>(-24, 120)(random))});
    }
    if (chance(0.15)) {
      p.blocks.push_back({id, static_cast<core::BlockReason>(std::uniform_int_distribution<int>(1, 4)(random))});
    }
    if (chance(0.35)) {
      core::Window window;
      switch (std::uniform_int_distribution<int>(0, 3)(random)) {
        case 0: window = {.kind = core::WindowKind::kRolling, .length = absl::Hours(36)}; break;
        case 1: window = {.kind = core::WindowKind::kDay}; break;
        case 2: window = {.kind = core::WindowKind::kWeek}; break;
        default: window = {.kind = core::WindowKind::kMonth}; break;
      }
      p.frequency.push_back({id, std::uniform_int_distribution<int>(1, 3)(random), window});
    }
  }
  p.timezone = among({"", "Europe/Paris", "Asia/Tokyo"});
  if (chance(0.5)) p.segments = {among({"inactive", "reactive"})};
  return p;
}

// decide.lua's preference rules and core/preference_rules.cc state the same rules: on random
// traffic against random stored preferences and suppression entries, every answer (verdicts,
// retry, denial code, profile changes) and every stored history must be identical.
TEST_F(RedisStoreTest, ThePreferenceRulesAgreeWithTheReferenceOnRandomTraffic) {
  auto policy = PolicyFromYaml(kPreferencePolicy);
  std::mt19937 random(7);
  auto pick = [&](std::vector<std::string> options) {
    return options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(random)];
  };
  struct Contact {
    core::History history;
    std::optional<core::Preferences> preferences;
    std::optional<core::Preferences> suppression;
  };
  std::map<std::string, Contact> reference;
  absl::Time now = t0_;
  std::map<core::ReasonCode, int> codes;
  std::map<core::CheckOutcome, int> seen;
  for (int step = 0; step < 2000; ++step) {
    now += absl::Minutes(std::uniform_int_distribution<int>(1, 300)(random));
    const std::string name = pick({"ana", "ben", "cy", "dee"});
    Contact& contact = reference[name];
    if (step % 9 == 0) {  // the preference centre changes something
      const bool forgotten = std::bernoulli_distribution(0.2)(random);
      core::Preferences stored = RandomPreferences(random, now, step + 1);
      if (forgotten) {
        contact.preferences.reset();
        contact.suppression = core::SuppressionOf(stored).value_or(core::Preferences{});
        redis_.Cli({"DEL", store::PreferencesKey(name)});
        redis_.CliWithLast({"HSET", store::SuppressionKey(name), "hash-" + name},
                           store::EncodePreferences(*contact.suppression));
      } else {
        std::string blob = store::EncodePreferences(stored);
        if (std::bernoulli_distribution(0.3)(random)) {  // as written before channel pauses
          stored.channel_pauses.clear();
          blob = store::EncodePreferences(stored);
          blob.pop_back();
          blob[0] = static_cast<char>(store::contract::kPreferenceFormatBeforeChannelPauses);
        }
        contact.preferences = stored;
        redis_.CliWithLast({"SET", store::PreferencesKey(name)}, blob);
      }
    }
    TestMessage message{
        .id = "m" + std::to_string(std::uniform_int_distribution<int>(0, 1500)(random)),
        .contact = name,
        .channel = pick({"email", "email", "sms", "push"}),
        .category = pick({"marketing", "marketing", "marketing", "transactional", "service"}),
        .subscription = pick({"", "newsletter", "offers"}),
        .weight = std::uniform_int_distribution<int>(1, 2)(random),
        .segments = {pick({"reactive", "inactive"})},
        .zone = pick({"Europe/Paris", "America/New_York", "Asia/Tokyo"}),
        .send_at = now + absl::Minutes(std::uniform_int_distribution<int>(-30, 600)(random))};
    core::Message built = BuildMessage(*policy, message);
    // Sometimes the request left its profile out, planned with a profile that may be stale.
    if (std::bernoulli_distribution(0.3)(random)) built.stored_timezone = pick({"", "Asia/Tokyo"});
    if (std::bernoulli_distribution(0.3)(random)) {
      built.stored_segments = std::vector<std::string>{pick({"inactive", "reactive"})};
    }
    core::CheckPlan plan = core::PlanCheck(*policy, built, now);
    plan.preferences.suppression_hash = "hash-" + name;
    const core::Preferences* stored = contact.preferences   ? &*contact.preferences
                                      : contact.suppression ? &*contact.suppression
                                                            : nullptr;
    const core::CheckResult expected = core::EvaluateCheck(plan, contact.history, stored);
    contact.history = core::HistoryAfter(plan, expected, contact.history);
    absl::StatusOr<core::CheckResult> actual = Check(plan);
    ASSERT_TRUE(actual.ok()) << actual.status();
    ExpectSameResult(*actual, expected, step);
    ASSERT_EQ(StoredHistory(name), contact.history) << "step " << step;
    ++seen[expected.outcome];
    for (const core::RuleVerdict& verdict : expected.verdicts) ++codes[verdict.code];
  }
  // Every rule fired, every kind of answer came.
  for (core::ReasonCode code : {core::ReasonCode::kOptedOut, core::ReasonCode::kSuppressed,
                                core::ReasonCode::kChannelBlocked, core::ReasonCode::kUnsubscribed,
                                core::ReasonCode::kNotOptedIn, core::ReasonCode::kPaused,
                                core::ReasonCode::kContactFrequency}) {
    EXPECT_GT(codes[code], 0) << static_cast<int>(code);
  }
  EXPECT_EQ(seen.size(), 6u);
}

// A busy contact: more transactional sends than the bound, with marketing ones in between.
// The long exempt list is appended to, then cut to its floor in one rewrite; every answer and
// the stored history stay those of the reference.
// A plan longer than decide.lua unpacks at once (200 numbers) is read in pieces: with 40 caps
// of 9 numbers each, the last cap holds exactly as the first one does.
TEST_F(RedisStoreTest, APlanLongerThanOneUnpackIsReadWhole) {
  std::string caps;
  for (int i = 0; i < 90; ++i) {
    caps += absl::StrCat("  - {id: cap-", i, ", channels: [email], window: 7d, limit: ",
                         i == 0 || i == 89 ? 2 : 100, "}\n");
  }
  policy_ = PolicyFromYaml(absl::StrCat("timezone: Europe/Paris\nmax_delay: 7d\n"
                                        "idempotency_window: 2d\nchannels: [email]\n"
                                        "categories: {marketing: {}}\ncaps:\n",
                                        caps));
  ASSERT_GT(store::PlanArgument(Plan({.send_at = t0_}), store::kFirstCounterKey).size(),
            200u * store::contract::kPlanNumberBytes);
  ASSERT_GT(store::CapScopesArgument(Plan({.send_at = t0_})).size(),
            200u * store::contract::kPlanNumberBytes);
  EXPECT_EQ(Outcome({.id = "m0", .send_at = t0_}), core::CheckOutcome::kAllowed);
  EXPECT_EQ(Outcome({.id = "m1", .send_at = t0_ + absl::Minutes(1)}),
            core::CheckOutcome::kAllowed);
  absl::StatusOr<core::CheckResult> third =
      Check(Plan({.id = "m2", .send_at = t0_ + absl::Minutes(2)}));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->outcome, core::CheckOutcome::kDeferred);
  ASSERT_EQ(third->caps.size(), 90u);
  EXPECT_EQ(third->caps.front().used, 2);
  EXPECT_EQ(third->caps.back().used, 2);
  EXPECT_EQ(third->caps.back().room_at, t0_ + absl::Hours(24 * 7));
  EXPECT_EQ(third->retry_at, t0_ + absl::Hours(24 * 7));
}

// decide.lua keeps the caps it compiled for each distinct string of caps' scopes, at most
// 1 024 (docs/redis.md, "The caps' scopes"); a cap per campaign makes one string per campaign.
// Eight times as many campaigns again leave the library's Lua memory within a few times what
// the first 1 024 took (garbage not yet collected included), where keeping them all would
// take nine times as much.
TEST_F(RedisStoreTest, CompiledCapScopesAreBounded) {
  const auto lua_memory = [this] {
    const std::string info = redis_.Cli({"INFO", "memory"});
    const size_t at = info.find("used_memory_vm_functions:");
    int64_t bytes = -1;
    if (at != std::string::npos) {
      const size_t from = at + std::string("used_memory_vm_functions:").size();
      const size_t end = info.find_first_of("\r\n", from);
      EXPECT_TRUE(absl::SimpleAtoi(info.substr(from, end - from), &bytes));
    }
    return bytes;
  };
  const auto decide_campaigns = [this](int first, int count) {
    for (int i = first; i < first + count; ++i) {
      const std::string n = std::to_string(i);
      const absl::StatusOr<core::CheckResult> result = Check(Plan(
          {.id = "m" + n, .contact = "c" + n, .campaign = "campaign-" + n, .send_at = t0_}));
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_EQ(result->outcome, core::CheckOutcome::kAllowed) << i;
    }
  };
  decide_campaigns(0, 1);
  const int64_t loaded = lua_memory();
  decide_campaigns(1, 1023);
  const int64_t kept = lua_memory();
  decide_campaigns(1024, 8 * 1024);
  const int64_t after = lua_memory();
  std::printf("Lua memory of the library: %lld bytes, with 1 024 cap scopes %lld, after 9 216 "
              "%lld (%lld bytes a scopes string)\n",
              static_cast<long long>(loaded), static_cast<long long>(kept),
              static_cast<long long>(after), static_cast<long long>((kept - loaded) / 1023));
  ASSERT_GT(loaded, 0);
  EXPECT_LT(after, 4 * kept);
}

TEST_F(RedisStoreTest, ABusyContactStaysExactAndBounded) {
  core::History reference;
  core::CapacityCounters counters;
  absl::Time now = t0_;
  size_t largest = 0;
  for (int step = 0; step < 1150; ++step) {
    now += absl::Seconds(30);
    const bool marketing = step % 50 == 0;
    TestMessage message{.id = "busy-" + std::to_string(step), .contact = "busy",
                        .channel = marketing && step % 100 == 0 ? "sms" : "email",
                        .category = marketing ? "marketing" : "transactional",
                        .send_at = now};
    const core::CheckPlan plan = Plan(message, now);
    const core::CheckResult expected = core::EvaluateCheck(plan, reference, nullptr, &counters);
    reference = core::HistoryAfter(plan, expected, reference);
    core::CountCapacity(plan, expected, counters);
    absl::StatusOr<core::CheckResult> actual = Check(plan);
    ASSERT_TRUE(actual.ok()) << actual.status();
    ExpectSameResult(*actual, expected, step);
    largest = std::max(largest, reference.exempt.size());
    if (step % 25 == 0 || step > 990) {
      ASSERT_EQ(StoredHistory("busy"), reference) << step;
    }
  }
  EXPECT_EQ(largest, 1000u);
  EXPECT_LT(reference.exempt.size(), 1000u);  // cut to 900, then appended to
  EXPECT_GE(Integer({"PTTL", store::ExemptHistoryKey("busy")}),
            absl::ToInt64Milliseconds(policy_->Retention()) - 60000);
}

TEST_F(RedisStoreTest, ADryRunAnswersLikeTheRealCallAndRecordsNothing) {
  for (int i = 0; i < 3; ++i) {
    core::CheckPlan plan = Plan({.id = "dry" + std::to_string(i), .send_at = t0_});
    plan.dry_run = true;
    absl::StatusOr<core::CheckResult> dry = Check(plan);
    ASSERT_TRUE(dry.ok()) << dry.status();
    EXPECT_EQ(dry->outcome, core::CheckOutcome::kAllowed);
    EXPECT_EQ(dry->caps[0].used, i);  // what was really sent, not the dry runs
    EXPECT_EQ(Outcome({.id = "e" + std::to_string(i), .send_at = t0_}),
              core::CheckOutcome::kAllowed);
  }
  const std::string before = redis_.Cli({"GET", store::MainHistoryKey("c1")});
  core::CheckPlan full = Plan({.id = "dry3", .send_at = t0_});
  full.dry_run = true;
  absl::StatusOr<core::CheckResult> deferred = Check(full);
  ASSERT_TRUE(deferred.ok()) << deferred.status();
  EXPECT_EQ(deferred->outcome, core::CheckOutcome::kDeferred);
  // A dry run of a message already decided is answered from its decision.
  core::CheckPlan again = Plan({.id = "e1", .send_at = t0_});
  again.dry_run = true;
  EXPECT_EQ(Check(again)->outcome, core::CheckOutcome::kReplayAllowed);
  EXPECT_EQ(redis_.Cli({"GET", store::MainHistoryKey("c1")}), before);
  EXPECT_EQ(StoredHistory("c1").main.size(), 3u);
  // A denial is not kept either: a contact that never had a send has no key afterwards.
  core::CheckPlan fresh = Plan({.id = "x", .contact = "never", .send_at = t0_});
  fresh.dry_run = true;
  EXPECT_EQ(Check(fresh)->outcome, core::CheckOutcome::kAllowed);
  EXPECT_EQ(Integer({"EXISTS", store::MainHistoryKey("never"), store::ExemptHistoryKey("never")}),
            0);
}

// A contact last written by a version before editions has its histories under the old keys,
// in the old layout: the scripts count them, move them to today's keys (after what a newer
// replica wrote there), keep their expiry, and a dry run reads them without moving them.
TEST_F(RedisStoreTest, HistoriesFromBeforeEditionsAreCountedAndMoved) {
  const core::CheckPlan first = Plan({.id = "old-1", .contact = "v1", .send_at = t0_});
  const core::CheckPlan second = Plan({.id = "old-2", .contact = "v1", .send_at = t0_});
  const core::CheckPlan exempt =
      Plan({.id = "old-t", .contact = "v1", .category = "transactional", .send_at = t0_});
  redis_.CliWithLast({"SET", store::V1MainHistoryKey("v1")},
                     store::EncodeV1History({first.send, second.send}));
  redis_.Cli({"PEXPIRE", store::V1MainHistoryKey("v1"), "3600000"});
  redis_.CliWithLast({"SET", store::V1ExemptHistoryKey("v1")},
                     store::EncodeV1History({exempt.send}));
  core::History expected{.main = {first.send, second.send}, .exempt = {exempt.send}};
  EXPECT_EQ(StoredHistory("v1"), expected);  // GetPressure reads them where they are

  core::CheckPlan dry = Plan({.id = "new-1", .contact = "v1", .send_at = t0_ + absl::Hours(1)});
  dry.dry_run = true;
  absl::StatusOr<core::CheckResult> dry_result = Check(dry);
  ASSERT_TRUE(dry_result.ok()) << dry_result.status();
  EXPECT_EQ(dry_result->caps[0].used, 2);  // email-7d counts the old sends
  core::CheckPlan dry_replay = exempt;
  dry_replay.dry_run = true;
  EXPECT_EQ(Check(dry_replay)->outcome, core::CheckOutcome::kReplayAllowed);
  EXPECT_EQ(Integer({"EXISTS", store::V1MainHistoryKey("v1")}), 1);  // a dry run writes nothing

  const core::CheckPlan next =
      Plan({.id = "new-1", .contact = "v1", .send_at = t0_ + absl::Hours(1)});
  absl::StatusOr<core::CheckResult> result = Check(next);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, core::CheckOutcome::kAllowed);
  EXPECT_EQ(result->caps[0].used, 2);
  expected.main.push_back(next.send);
  EXPECT_EQ(StoredHistory("v1"), expected);
  EXPECT_EQ(Integer({"EXISTS", store::V1MainHistoryKey("v1"), store::V1ExemptHistoryKey("v1")}), 0);
  EXPECT_GT(Integer({"PTTL", store::MainHistoryKey("v1")}), 3600000 - 60000);
  EXPECT_EQ(Check(Plan({.id = "old-2", .contact = "v1", .send_at = t0_}))->outcome,
            core::CheckOutcome::kReplayAllowed);

  // A replica of the older version records one more during a rolling upgrade: it is kept too.
  const core::CheckPlan late = Plan({.id = "old-3", .contact = "v1", .send_at = t0_});
  redis_.CliWithLast({"SET", store::V1MainHistoryKey("v1")}, store::EncodeV1History({late.send}));
  EXPECT_EQ(Cancel("v1", "old-3").value_or(false), true);  // found once moved
  EXPECT_EQ(StoredHistory("v1"), expected);
  EXPECT_EQ(Integer({"EXISTS", store::V1MainHistoryKey("v1")}), 0);
}

TEST_F(RedisStoreTest, AReplayIsAnsweredFromHistoryAndNotCountedAgain) {
  EXPECT_EQ(Outcome({.id = "same", .send_at = t0_}), core::CheckOutcome::kAllowed);
  absl::StatusOr<core::CheckResult> replay = Check(Plan({.id = "same", .send_at = t0_ + absl::Hours(2)}));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->outcome, core::CheckOutcome::kReplayAllowed);
  EXPECT_EQ(replay->replay_at, t0_);
  EXPECT_EQ(StoredHistory("c1").main.size(), 1u);
}

TEST_F(RedisStoreTest, CancelGivesTheRoomBack) {
  for (int i = 0; i < 3; ++i) Outcome({.id = "e" + std::to_string(i), .send_at = t0_});
  EXPECT_EQ(Outcome({.id = "e3", .send_at = t0_}), core::CheckOutcome::kDeferred);
  EXPECT_EQ(Cancel("c1", "e1").value_or(false), true);
  EXPECT_EQ(Cancel("c1", "e1").value_or(true), false);   // twice is harmless
  EXPECT_EQ(Cancel("c1", "nope").value_or(true), false);
  EXPECT_EQ(Outcome({.id = "e3", .send_at = t0_}), core::CheckOutcome::kAllowed);
  for (const std::string id : {"e0", "e2", "e3"}) {
    EXPECT_EQ(Cancel("c1", id).value_or(false), true);
  }
  EXPECT_EQ(redis_.Cli({"EXISTS", store::MainHistoryKey("c1")}), "0");  // the last one deletes it
}

TEST_F(RedisStoreTest, HistoryIsTrimmedAndIdleKeysExpire) {
  const std::string key = store::MainHistoryKey("c1");
  Outcome({.id = "old", .send_at = t0_});
  // The key lives as long as its latest record can count: the longest cap reach (a calendar
  // month, 32 days with slack), which beats the 2-day idempotency window.
  ASSERT_EQ(policy_->Retention(), absl::Hours(24 * 32));
  const int64_t ttl = Integer({"PTTL", key});
  EXPECT_GT(ttl, absl::ToInt64Milliseconds(policy_->Retention()) - 60000);
  EXPECT_LE(ttl, absl::ToInt64Milliseconds(policy_->Retention()));
  // Forty days later the old send can count nowhere: the next decision drops it.
  const absl::Time later = t0_ + absl::Hours(24 * 40);
  ASSERT_TRUE(Check(Plan({.id = "new", .send_at = later}, later)).ok());
  const core::History history = StoredHistory("c1");
  ASSERT_EQ(history.main.size(), 1u);
  EXPECT_EQ(history.main[0].at, later);
  // A key whose expiry passes is gone.
  redis_.Cli({"PEXPIRE", key, "1"});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(redis_.Cli({"EXISTS", key}), "0");
}

TEST_F(RedisStoreTest, ALibraryFlushedFromRedisIsLoadedAgain) {
  EXPECT_EQ(Outcome({.id = "a", .send_at = t0_}), core::CheckOutcome::kAllowed);
  EXPECT_EQ(redis_.Cli({"FUNCTION", "FLUSH"}), "OK");
  EXPECT_EQ(Outcome({.id = "b", .send_at = t0_}), core::CheckOutcome::kAllowed);
  EXPECT_EQ(redis_.Cli({"FUNCTION", "FLUSH"}), "OK");
  EXPECT_EQ(Cancel("c1", "a").value_or(false), true);
  EXPECT_GE(library_reloads_.load(), 2);
  EXPECT_EQ(Outcome({.id = "c", .send_at = t0_}), core::CheckOutcome::kAllowed);
  EXPECT_EQ(StoredHistory("c1").main.size(), 2u);
}

TEST_F(RedisStoreTest, RedisKilledMidTestThenRestarted) {
  EXPECT_EQ(Outcome({.id = "a", .send_at = t0_}), core::CheckOutcome::kAllowed);
  redis_.Kill();
  // Every call still answers, with UNAVAILABLE, well before its deadline.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<core::CheckResult> result =
        Check(Plan({.id = "down" + std::to_string(i), .send_at = t0_}), absl::Seconds(2));
    EXPECT_FALSE(result.ok());
    EXPECT_TRUE(absl::IsUnavailable(result.status()) ||
                absl::IsDeadlineExceeded(result.status()))
        << result.status();
  }
  EXPECT_FALSE(store_->healthy());
  redis_.Start();  // same port, empty data (no persistence in this test)
  WaitUntilHealthy();
  EXPECT_EQ(Outcome({.id = "b", .send_at = t0_}), core::CheckOutcome::kAllowed);
}

TEST_F(RedisStoreTest, AFrozenRedisTimesOutAtTheDeadline) {
  redis_.Pause();
  const absl::Time asked = absl::Now();
  absl::StatusOr<core::CheckResult> result =
      Check(Plan({.id = "a", .send_at = t0_}), absl::Milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  // Answered by its deadline (plus the 1 ms deadline tick and scheduling slack), not hung.
  EXPECT_LT(absl::Now() - asked, absl::Seconds(1));
  redis_.Resume();
  WaitUntilHealthy();
  EXPECT_EQ(Outcome({.id = "b", .send_at = t0_}), core::CheckOutcome::kAllowed);
}

TEST_F(RedisStoreTest, AConnectionThatStopsAnsweringIsDroppedAndReopened) {
  std::atomic<int> downs{0}, ups{0};
  store::RedisStore quick(store::RedisStoreOptions{
      .connection = {.host = "127.0.0.1", .port = redis_.port(),
                     .stall_timeout = absl::Milliseconds(200)},
      .connections = 1,
      .events = {.on_state = [&](bool up) { ++(up ? ups : downs); }}});
  for (int i = 0; i < 500 && !quick.healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  redis_.Pause();
  std::promise<absl::Status> answer;
  quick.Check(Plan({.id = "a", .send_at = t0_}), absl::Now() + absl::Milliseconds(50),
              [&](absl::StatusOr<core::CheckResult> result) { answer.set_value(result.status()); });
  EXPECT_TRUE(absl::IsDeadlineExceeded(answer.get_future().get()));
  for (int i = 0; i < 200 && downs.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(downs.load(), 1);  // dropped after 200 ms without an answer
  redis_.Resume();
  for (int i = 0; i < 500 && ups.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ups.load(), 2);  // the first connection, then the new one
}

TEST_F(RedisStoreTest, ARedisThatLetsCallsTimeOutIsRefusedAtOnceUntilATrialIsAnswered) {
  std::mutex mutex;
  std::vector<bool> changes;
  store::RedisStore shunning(store::RedisStoreOptions{
      .connection = {.host = "127.0.0.1", .port = redis_.port(),
                     .breaker = {.timeouts_to_open = 2, .open_for = absl::Milliseconds(200)}},
      .connections = 2,
      .events = {.on_circuit = [&](bool open) {
        std::lock_guard<std::mutex> lock(mutex);
        changes.push_back(open);
      }}});
  for (int i = 0; i < 500 && !shunning.healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto check = [&](const std::string& id, absl::Duration within) {
    std::promise<absl::Status> answer;
    shunning.Check(Plan({.id = id, .contact = "c-" + id, .send_at = t0_}), absl::Now() + within,
                   [&](absl::StatusOr<core::CheckResult> result) {
                     answer.set_value(result.status());
                   });
    return answer.get_future().get();
  };
  redis_.Pause();
  // Calls given less than 20 ms by their callers prove nothing of Redis: they never open it.
  for (const char* id : {"short1", "short2", "short3"}) {
    EXPECT_EQ(store::KindOf(check(id, absl::Milliseconds(5))), store::StoreErrorKind::kTimeout);
  }
  // Two contacts, on either connection: both wait for their deadline.
  EXPECT_EQ(store::KindOf(check("a", absl::Milliseconds(50))), store::StoreErrorKind::kTimeout);
  EXPECT_EQ(store::KindOf(check("b", absl::Milliseconds(50))), store::StoreErrorKind::kTimeout);
  // The node is shunned: a call with a long deadline is refused without going to Redis.
  const absl::Status refused = check("c", absl::Seconds(30));
  EXPECT_EQ(store::KindOf(refused), store::StoreErrorKind::kCircuitOpen) << refused;
  EXPECT_TRUE(absl::IsUnavailable(refused));
  redis_.Resume();
  // Refused until the next trial, which Redis answers in time: then every call goes again.
  absl::Status answered = refused;
  for (int i = 0; i < 100 && !answered.ok(); ++i) {
    answered = check("d" + std::to_string(i), absl::Seconds(1));
    if (!answered.ok()) {
      EXPECT_EQ(store::KindOf(answered), store::StoreErrorKind::kCircuitOpen) << answered;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(answered.ok()) << answered;
  EXPECT_TRUE(check("e", absl::Seconds(1)).ok());
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(changes, (std::vector<bool>{true, false}));
}

TEST_F(RedisStoreTest, SixtyFourConcurrentCallsForOneContactAllowExactlyTheCap) {
  // Push messages meet only all-7d (limit 5).
  std::vector<std::thread> callers;
  std::atomic<int> allowed{0}, deferred{0};
  for (int i = 0; i < 64; ++i) {
    callers.emplace_back([&, i] {
      absl::StatusOr<core::CheckResult> result = Check(
          Plan({.id = "p" + std::to_string(i), .contact = "busy", .channel = "push", .send_at = t0_}));
      ASSERT_TRUE(result.ok()) << result.status();
      if (result->outcome == core::CheckOutcome::kAllowed) ++allowed;
      if (result->outcome == core::CheckOutcome::kDeferred) ++deferred;
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(allowed.load(), 5);
  EXPECT_EQ(deferred.load(), 59);
  EXPECT_EQ(StoredHistory("busy").main.size(), 5u);
}

// Capacity across contacts: 64 SMS at once, each for another contact, against 4 per 3 days in
// 2 shards: exactly 4 go, 2 on each shard's counter, the rest wait for the next interval.
TEST_F(RedisStoreTest, SixtyFourConcurrentContactsTakeExactlyTheCapacity) {
  ExpectConcurrentContactsTakeExactlyTheCapacity();
}

void RedisStoreTest::ExpectConcurrentContactsTakeExactlyTheCapacity() {
  std::vector<std::thread> callers;
  std::atomic<int> allowed{0}, deferred{0};
  std::mutex mutex;
  std::set<std::string> counters;
  for (int i = 0; i < 64; ++i) {
    callers.emplace_back([&, i] {
      const core::CheckPlan plan = Plan({.id = "t", .contact = "contact-" + std::to_string(i),
                                         .channel = "sms", .send_at = t0_});
      absl::StatusOr<core::CheckResult> result = Check(plan);
      ASSERT_TRUE(result.ok()) << result.status();
      if (result->outcome == core::CheckOutcome::kAllowed) ++allowed;
      if (result->outcome == core::CheckOutcome::kDeferred) {
        ++deferred;
        EXPECT_EQ(result->retry_at, plan.capacity.at(0).end);
      }
      std::lock_guard<std::mutex> lock(mutex);
      counters.insert(plan.capacity.at(0).counter);
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(allowed.load(), 4);
  EXPECT_EQ(deferred.load(), 60);
  ASSERT_EQ(counters.size(), 2u);
  for (const std::string& counter : counters) {
    EXPECT_EQ(SettledCounter(counter, 2), 2);
    // The counter goes a minute after its interval ends (the plan's clock is t0_).
    EXPECT_GT(Integer({"PTTL", store::CapacityKey(counter)}), 60000);
  }
}

// A send stamped in the past is recorded when it can go out, now: it keeps its idempotency
// for the whole retention, instead of a key that expires in a second.
TEST_F(RedisStoreTest, ABackdatedSendIsRecordedNowAndStaysReplayable) {
  const absl::Time now = t0_;
  const TestMessage backdated{.id = "old", .send_at = now - absl::Hours(24 * 40)};
  absl::StatusOr<core::CheckResult> first = Check(Plan(backdated, now));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->outcome, core::CheckOutcome::kAllowed);
  EXPECT_EQ(StoredHistory("c1").main.at(0).at, now);
  EXPECT_GT(Integer({"PTTL", store::MainHistoryKey("c1")}),
            absl::ToInt64Milliseconds(policy_->Retention()) - 60000);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  absl::StatusOr<core::CheckResult> again = Check(Plan(backdated, now + absl::Seconds(1)));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome, core::CheckOutcome::kReplayAllowed);
}

// Whatever a request's send_at, the sends a contact gets in any window stay within the caps:
// random requests stamped up to 300 days back (or a little ahead), decided at increasing
// times, through the real script.
TEST_F(RedisStoreTest, RequestsStampedInThePastCannotRaiseTheSendsInAnyWindow) {
  std::mt19937 random(6);
  absl::Time now = t0_;
  for (int step = 0; step < 400; ++step) {
    now += absl::Minutes(std::uniform_int_distribution<int>(10, 600)(random));
    const int back_minutes = std::uniform_int_distribution<int>(-120, 300 * 24 * 60)(random);
    const TestMessage message{.id = "p" + std::to_string(step),
                              .contact = "stamped",
                              .channel = step % 3 == 0 ? "sms" : "email",
                              .send_at = now - absl::Minutes(back_minutes)};
    ASSERT_TRUE(Check(Plan(message, now)).ok());
  }
  std::vector<absl::Time> emails, all;
  std::map<absl::CivilDay, int> sms_per_day;
  const absl::TimeZone paris = *policy::FindTimeZone("Europe/Paris");
  for (const core::SendRecord& record : StoredHistory("stamped").main) {
    if (!record.counted()) continue;
    all.push_back(record.at);
    if (record.id(core::Field::kChannel) == policy_->channels[0].id) emails.push_back(record.at);
    if (record.id(core::Field::kChannel) == policy_->channels[1].id) {
      ++sms_per_day[absl::ToCivilDay(record.at, paris)];
    }
  }
  // The most sends in any rolling window of `length` (they are in time order).
  auto most_in = [](const std::vector<absl::Time>& sends, absl::Duration length) {
    size_t most = 0;
    for (size_t i = 0, j = 0; j < sends.size(); ++j) {
      while (sends[j] - sends[i] >= length) ++i;
      most = std::max(most, j - i + 1);
    }
    return most;
  };
  ASSERT_GT(emails.size(), 10u);
  EXPECT_LE(most_in(emails, absl::Hours(24 * 7)), 3u);  // email-7d
  EXPECT_LE(most_in(all, absl::Hours(24 * 7)), 5u);     // all-7d
  for (const auto& [day, count] : sms_per_day) EXPECT_LE(count, 1) << day;  // sms-day
}

TEST_F(RedisStoreTest, TheLibraryRegistersEveryFunctionUnderItsVersion) {
  EXPECT_EQ(Outcome({.id = "a", .send_at = t0_}), core::CheckOutcome::kAllowed);
  const std::string library = absl::StrCat("sendgate_", store::kLibraryVersion);
  const std::string listed = redis_.Cli({"FUNCTION", "LIST", "LIBRARYNAME", library});
  EXPECT_THAT(listed, ::testing::HasSubstr(library));
  for (absl::string_view function :
       {store::kDecideFunction, store::kDecideDryRunFunction, store::kCancelFunction,
        store::kReadPreferencesFunction,
        store::kWritePreferencesFunction, store::kConfirmPreferencesFunction,
        store::kForgetFunction}) {
    EXPECT_THAT(listed, ::testing::HasSubstr(std::string(function)));
  }
  // Loading it again, as every new connection does, is answered "already exists".
  EXPECT_THAT(redis_.CliWithLast({"FUNCTION", "LOAD"}, store::kLibrarySource),
              ::testing::HasSubstr("already exists"));
  // Another version's library, with the same function names under its own version, coexists.
  std::string other(store::kLibrarySource);
  absl::StrReplaceAll({{store::kLibraryVersion, "0000000000000000"}}, &other);
  EXPECT_EQ(redis_.CliWithLast({"FUNCTION", "LOAD"}, other), "sendgate_0000000000000000");
  EXPECT_EQ(Outcome({.id = "b", .send_at = t0_}), core::CheckOutcome::kAllowed);
}

TEST_F(RedisStoreTest, RedisErrorsAreReportedByKindAndChangeNothing) {
  redis_.Cli({"HSET", store::MainHistoryKey("typed"), "a", "b"});
  absl::StatusOr<core::CheckResult> wrong = Check(Plan({.id = "w", .contact = "typed", .send_at = t0_}));
  EXPECT_EQ(store::KindOf(wrong.status()), store::StoreErrorKind::kRedisError) << wrong.status();
  EXPECT_EQ(redis_.Cli({"TYPE", store::MainHistoryKey("typed")}), "hash");

  redis_.Cli({"CONFIG", "SET", "maxmemory", "1"});
  absl::StatusOr<core::CheckResult> full = Check(Plan({.id = "o", .send_at = t0_}));
  EXPECT_EQ(store::KindOf(full.status()), store::StoreErrorKind::kOutOfMemory) << full.status();
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  redis_.Cli({"CONFIG", "SET", "maxmemory", "0"});
  EXPECT_EQ(redis_.Cli({"EXISTS", store::MainHistoryKey("c1")}), "0");
  EXPECT_EQ(Outcome({.id = "o", .send_at = t0_}), core::CheckOutcome::kAllowed);
}

// A cluster node is told from a standalone Redis at start (sendgate then routes by slot).
TEST(RedisClusterModeTest, IsDetectedAtStart) {
  RedisServer node({"--cluster-enabled", "yes"});
  const absl::StatusOr<bool> cluster =
      store::IsCluster({.host = "127.0.0.1", .port = node.port()});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_TRUE(*cluster);
  RedisServer standalone;
  const absl::StatusOr<bool> alone =
      store::IsCluster({.host = "127.0.0.1", .port = standalone.port()});
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_FALSE(*alone);
  EXPECT_TRUE(absl::IsUnavailable(store::IsCluster({.host = "127.0.0.1", .port = FreePort()}).status()));
}

// hiredis resolves names synchronously; a slow resolver must not stall the loop: commands sent
// meanwhile are answered at once, and the connection comes up once the name resolves.
TEST_F(RedisStoreTest, ASlowNameLookupNeverStallsTheConnection) {
  std::atomic<int> lookups{0};
  store::RedisStore slow(store::RedisStoreOptions{
      .connection = {.host = "redis.example.internal",
                     .port = redis_.port(),
                     .connect_timeout = absl::Seconds(5),
                     .resolve =
                         [&lookups](const std::string& host) -> absl::StatusOr<std::string> {
                           ++lookups;
                           std::this_thread::sleep_for(std::chrono::milliseconds(1500));
                           return std::string("127.0.0.1");
                         }},
      .connections = 1});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the lookup is under way
  const absl::Time asked = absl::Now();
  std::promise<absl::Status> answer;
  slow.Check(Plan({.id = "early", .send_at = t0_}), absl::Now() + absl::Milliseconds(100),
             [&](absl::StatusOr<core::CheckResult> result) { answer.set_value(result.status()); });
  const absl::Status early = answer.get_future().get();
  EXPECT_LT(absl::Now() - asked, absl::Milliseconds(500)) << "the loop waited for the lookup";
  EXPECT_EQ(store::KindOf(early), store::StoreErrorKind::kUnavailable) << early;
  for (int i = 0; i < 500 && !slow.healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(slow.healthy());
  EXPECT_EQ(lookups.load(), 1);
}

TEST(RedisResolveTest, TheSystemResolverKnowsLocalhost) {
  absl::StatusOr<std::string> address = store::ResolveWithSystem("localhost");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_TRUE(*address == "127.0.0.1" || *address == "::1") << *address;
  EXPECT_FALSE(store::ResolveWithSystem("no-such-host.invalid").ok());
}

// A contact of 20 sends in the window: 5 marketing ones (spread over the weeks the caps allow)
// and 15 transactional ones, with realistic ids, as APPENDed in production.
TEST_F(RedisStoreTest, AContactWithTwentySendsFitsInAKilobyte) {
  const std::string contact = "contact-0001234567";
  for (int i = 0; i < 20; ++i) {
    const bool marketing = i % 4 == 0;
    TestMessage message{.id = "msg-" + std::to_string(i) + "-2f9d0c1e-8b7a-4c55-9e1d-3a6b5c4d2e1f",
                        .contact = contact,
                        .category = marketing ? "marketing" : "transactional",
                        .campaign = marketing ? "campaign-" + std::to_string(i) : "",
                        .send_at = t0_ + absl::Hours(24 * i)};
    ASSERT_EQ(Outcome(message), core::CheckOutcome::kAllowed) << i;
  }
  const core::History history = StoredHistory(contact);
  ASSERT_EQ(history.main.size() + history.exempt.size(), 20u);
  const int64_t bytes = Integer({"MEMORY", "USAGE", store::MainHistoryKey(contact)}) +
                        Integer({"MEMORY", "USAGE", store::ExemptHistoryKey(contact)});
  std::printf("MEMORY USAGE of a contact with 20 sends (5 + 15): %lld bytes\n",
              static_cast<long long>(bytes));
  EXPECT_LE(bytes, 1024);
}

// Memory of a contact's planned sends (Arbiter.Plan): one key of 33-byte entries.
TEST_F(RedisStoreTest, PlannedSendsCostAFewTensOfBytesEach) {
  const std::string contact = "contact-0001234567";
  std::vector<int64_t> bytes;
  for (int count : {1, 5, core::kMaxPlannedSends}) {
    std::vector<core::PlannedChange> changes;
    for (int i = 0; i < count; ++i) {
      changes.push_back({.send = PlannedFor(*policy_,
                                            {.campaign = "campaign-2026-" + std::to_string(i),
                                             .send_at = t0_ + absl::Hours(24 + i)},
                                            t0_)});
    }
    ASSERT_TRUE(PlanSends(contact, changes, t0_).ok());
    ASSERT_EQ(StoredHistory(contact).planned.size(), static_cast<size_t>(count));
    bytes.push_back(Integer({"MEMORY", "USAGE", store::PlannedKey(contact)}));
  }
  std::printf("MEMORY USAGE of a contact's planned sends: 1: %lld, 5: %lld, %d: %lld bytes\n",
              static_cast<long long>(bytes[0]), static_cast<long long>(bytes[1]),
              core::kMaxPlannedSends, static_cast<long long>(bytes[2]));
  EXPECT_LE(bytes[0], 128);
  EXPECT_LE(bytes[2], 128 + 40 * core::kMaxPlannedSends);
  // The key lives until its last planned send expires.
  EXPECT_GT(Integer({"PTTL", store::PlannedKey(contact)}), 0);
}

// The same store on a Redis Cluster of 3 primaries: capacity counters are in other slots than
// the contacts' keys, so a message takes its unit by a call of its own first and gives it back
// when it is not allowed (service/store/capacity_on_cluster.h).
class RedisStoreOnClusterTest : public RedisStoreTest {
 protected:
  RedisStoreOnClusterTest() {
    std::vector<store::NodeAddress> seeds;
    for (int i = 0; i < cluster_.size(); ++i)
      seeds.push_back({"127.0.0.1", cluster_.node(i).port()});
    store_ = std::make_unique<store::RedisStore>(store::RedisStoreOptions{
        .connection = {.host = "127.0.0.1", .port = cluster_.node(0).port()},
        .connections = 2,
        .cluster_seeds = seeds,
        .wait_replicas = 0});
  }

  std::string KeyCli(const std::vector<std::string>& command) override {
    auto [owner, added] = owners_.try_emplace(command.at(1), -1);
    if (added) owner->second = cluster_.PrimaryOf(command[1]);
    return owner->second < 0 ? "" : cluster_.node(owner->second).Cli(command);
  }

  RedisCluster cluster_{3, 0};
  std::map<std::string, int> owners_;  // no slot moves in these tests
};

TEST_F(RedisStoreOnClusterTest, TheScriptAgreesWithTheReferenceOnRandomTraffic) {
  ExpectTheScriptAgreesWithTheReference();
}

TEST_F(RedisStoreOnClusterTest, SixtyFourConcurrentContactsTakeExactlyTheCapacity) {
  ExpectConcurrentContactsTakeExactlyTheCapacity();
}

// A dry run (GetPressure, sendgatectl decide) reads the counter and takes nothing; a message
// held back by another rule, and a replay, give their unit back.
TEST_F(RedisStoreOnClusterTest, OnlyANewAllowedSendKeepsItsUnit) {
  const TestMessage first{.id = "s1", .channel = "sms", .send_at = t0_};
  core::CheckPlan dry = Plan(first);
  dry.dry_run = true;
  ASSERT_EQ(Check(dry)->outcome, core::CheckOutcome::kAllowed);
  const std::string counter = dry.capacity.at(0).counter;
  EXPECT_EQ(SettledCounter(counter, 0), 0);
  EXPECT_EQ(Outcome(first), core::CheckOutcome::kAllowed);
  EXPECT_EQ(SettledCounter(counter, 1), 1);
  EXPECT_EQ(Outcome(first), core::CheckOutcome::kReplayAllowed);
  // sms-day: the contact's second SMS of the day is held back by its cap.
  EXPECT_EQ(Outcome({.id = "s2", .channel = "sms", .send_at = t0_ + absl::Minutes(1)}),
            core::CheckOutcome::kDeferred);
  EXPECT_EQ(SettledCounter(counter, 1), 1);
  core::CheckPlan later = Plan({.id = "s3", .channel = "sms", .send_at = t0_ + absl::Minutes(2)});
  later.dry_run = true;
  absl::StatusOr<core::CheckResult> read = Check(later);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->outcome, core::CheckOutcome::kDeferred);
  ASSERT_EQ(read->capacity.size(), 1u);
  EXPECT_EQ(read->capacity[0].used, 1);
  EXPECT_EQ(SettledCounter(counter, 1), 1);
}

// On a cluster the change feed is in another slot than the contact's keys, so its entry is
// written by a call of its own after the contact's write. A write its replicas did not confirm
// in time (this cluster has none: every WAIT falls short) stands on the primary, so its entry
// is written all the same: the caller's retry finds nothing left to write.
TEST_F(RedisStoreOnClusterTest, AWriteItsReplicasDidNotConfirmStillHasItsFeedEntry) {
  std::vector<store::NodeAddress> seeds;
  for (int i = 0; i < cluster_.size(); ++i) seeds.push_back({"127.0.0.1", cluster_.node(i).port()});
  store_ = std::make_unique<store::RedisStore>(
      store::RedisStoreOptions{.connection = {.host = "127.0.0.1", .port = cluster_.node(0).port()},
                               .cluster_seeds = seeds,
                               .wait_replicas = 1});
  WaitUntilHealthy();
  auto feed_length = [&] { return Integer({"XLEN", "sg:changes"}); };
  const store::Store::PreferencesWrite write{
      .contact_id = "fed",
      .preferences = {.version = 1, .global_opt_out = true},
      .consent_event = "opted out",
      .feed_entry = {{"contact_id", "fed"}, {"version", "1"}}};
  std::promise<absl::StatusOr<bool>> written;
  store_->WritePreferences(write, absl::Now() + absl::Milliseconds(300),
                           [&](absl::StatusOr<bool> result) { written.set_value(result); });
  const absl::StatusOr<bool> unconfirmed = written.get_future().get();
  EXPECT_TRUE(absl::IsUnavailable(unconfirmed.status())) << unconfirmed.status();
  EXPECT_TRUE(store::IsWrittenOnPrimary(unconfirmed.status()));
  EXPECT_EQ(KeyCli({"EXISTS", store::PreferencesKey("fed")}), "1");
  EXPECT_EQ(feed_length(), 1);
  // A write that finds the version moved writes nothing, waits for nothing, feeds nothing.
  std::promise<absl::StatusOr<bool>> stale;
  store_->WritePreferences(write, absl::Now() + absl::Milliseconds(300),
                           [&](absl::StatusOr<bool> result) { stale.set_value(result); });
  EXPECT_EQ(stale.get_future().get().value_or(true), false);
  EXPECT_EQ(feed_length(), 1);
  // The same for an erasure.
  std::promise<absl::Status> forgotten;
  store_->Forget({.contact_id = "fed", .read_version = 1, .suppression_hash = "hash-of-fed",
                  .suppression = {.suppressed = true},
                  .feed_entry = {{"contact_id", "fed"}, {"forgotten", "true"}}},
                 absl::Now() + absl::Milliseconds(300),
                 [&](absl::StatusOr<std::optional<bool>> result) {
                   forgotten.set_value(result.status());
                 });
  const absl::Status erased = forgotten.get_future().get();
  EXPECT_TRUE(absl::IsUnavailable(erased)) << erased;
  EXPECT_EQ(KeyCli({"EXISTS", store::PreferencesKey("fed")}), "0");
  EXPECT_EQ(feed_length(), 2);
}

// The router itself, through a failover: the killed primary's slots go to its replica, and the
// router lets the dead node go (no connection kept retrying it for ever) once it has served no
// slot for retire_after.
TEST(ClusterRouterTest, AFailedPrimaryIsLetGoOnceItServesNoSlot) {
  RedisCluster cluster(3, 1);
  std::vector<store::NodeAddress> seeds;
  for (int i = 0; i < cluster.size(); ++i) seeds.push_back({"127.0.0.1", cluster.node(i).port()});
  store::ClusterRouter router({.seeds = seeds,
                               .connections_per_node = 1,
                               .refresh_every = absl::Milliseconds(100),
                               .retire_after = absl::Milliseconds(300)});
  for (int i = 0; i < 500 && !router.healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(router.healthy());
  ASSERT_EQ(router.nodes().size(), 3u);  // the primaries only
  const std::string key = "sg:{c0}:h2";
  const int victim = cluster.PrimaryOf(key);
  ASSERT_GE(victim, 0);
  const store::NodeAddress dead{"127.0.0.1", cluster.node(victim).port()};
  cluster.node(victim).Kill();
  cluster.MarkDead(victim);
  ASSERT_TRUE(cluster.WaitUntilHealthy(30));
  auto kept = [&] {
    const std::vector<store::NodeAddress> nodes = router.nodes();
    return std::find(nodes.begin(), nodes.end(), dead) != nodes.end();
  };
  for (int i = 0; i < 1000 && (kept() || !router.healthy()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(kept());
  EXPECT_EQ(router.nodes().size(), 3u);  // the promoted replica took its place
  std::promise<std::string> answer;
  const std::string wire = store::FormatCommand({"SET", key, "after the failover"});
  router.Send(store::SlotOf(key), 0, wire, false, absl::Now() + absl::Seconds(5),
              [&](absl::StatusOr<const redisReply*> reply) {
                answer.set_value(!reply.ok() ? std::string(reply.status().message())
                                             : std::string((*reply)->str, (*reply)->len));
              });
  EXPECT_EQ(answer.get_future().get(), "OK");
}

}  // namespace
}  // namespace sendgate::testing
