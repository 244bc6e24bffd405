// The preference centre against a real redis-server: an acknowledged opt-out holds from the
// next decision on under concurrent traffic, regimes, unsubscribing from one subscription,
// optimistic versions, erasure with suppression, the stored profile, the consent trail and the
// change feed, and durability across a Redis crash. The Decider and the PreferenceUpdater on a
// RedisStore, without gRPC.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "service/api/decider.h"
#include "service/api/preference_updater.h"
#include "service/core/names.h"
#include "service/store/decide_call.h"
#include "service/store/redis_store.h"
#include "tests/support/redis_server.h"
#include "tests/unit/core_harness.h"

namespace sendgate::testing {
namespace {

using core::Outcome;
using core::ReasonCode;

const char* const kPolicy = R"yaml(
timezone: Europe/Paris
max_delay: 7d
channels: [email, sms, push]
categories:
  marketing: {}
  transactional: {exempt_from: [caps, opt_out, subscriptions, pause, contact_frequency]}
subscriptions:
  newsletter: {regime: opt-in, channels: [email]}
  offers: {regime: opt-in, channels: [email, sms]}
  notifications: {regime: opt-out, channels: [push]}
segments: [reactive, inactive]
caps:
  - {id: email-day, channels: [email], window: calendar day, limit: 2, segments: {inactive: 1}}
)yaml";

class RealClock final : public api::Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

class PreferencesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WaitUntilHealthy(*store_);
    ASSERT_TRUE(store_->healthy());
  }

  static void WaitUntilHealthy(const store::RedisStore& store) {
    for (int i = 0; i < 500 && !store.healthy(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // A global opt-out of `contact` through `updater`, within `deadline` from now.
  // A replica of redis_, once the primary counts it online (it has acknowledged the sync).
  std::unique_ptr<RedisServer> StartReplica() {
    auto replica = std::make_unique<RedisServer>(
        std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(redis_.port())});
    for (int i = 0; i < 1000 && !absl::StrContains(redis_.Cli({"INFO", "replication"}),
                                                   "state=online");
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return replica;
  }

  std::future<absl::Status> OptOut(api::PreferenceUpdater& updater, const std::string& contact,
                                   absl::Duration deadline) {
    api::PreferenceUpdate change{.contact_id = contact, .changes = {.global_opt_out = true}};
    change.evidence.set_source(v1::Evidence::PREFERENCE_CENTRE);
    auto answer = std::make_shared<std::promise<absl::Status>>();
    updater.Update(policy_, std::move(change), absl::Now() + deadline,
                   [answer](auto updated) { answer->set_value(updated.status()); });
    return answer->get_future();
  }

  core::Decision Decide(TestMessage message) {
    if (message.send_at == absl::Time()) message.send_at = absl::Now();
    core::Message built = BuildMessage(*policy_, message);
    built.stored_timezone.emplace();  // the request leaves the profile out
    built.stored_segments.emplace();
    built.timezone = policy_->default_timezone;
    built.segments.clear();
    std::promise<core::Decision> answer;
    decider_.Decide(policy_, built, absl::Now() + absl::Seconds(5),
                    [&](core::Decision decision, absl::Status) { answer.set_value(decision); });
    return answer.get_future().get();
  }

  absl::StatusOr<api::PreferenceUpdater::Updated> Update(const std::string& contact,
                                                         core::PreferenceChanges changes,
                                                         std::optional<int64_t> expected = {},
                                                         v1::Evidence::Source source =
                                                             v1::Evidence::PREFERENCE_CENTRE) {
    api::PreferenceUpdate update{.contact_id = contact, .expected_version = expected,
                                 .changes = std::move(changes)};
    update.evidence.set_source(source);
    update.evidence.set_actor("test");
    std::promise<absl::StatusOr<api::PreferenceUpdater::Updated>> answer;
    updater_.Update(policy_, std::move(update), absl::Now() + absl::Seconds(5),
                    [&](auto updated) { answer.set_value(std::move(updated)); });
    return answer.get_future().get();
  }

  absl::StatusOr<api::PreferenceUpdater::Forgotten> Forget(const std::string& contact) {
    std::promise<absl::StatusOr<api::PreferenceUpdater::Forgotten>> answer;
    v1::Evidence evidence;
    evidence.set_source(v1::Evidence::SUPPORT);
    updater_.Forget(contact, evidence, absl::Now() + absl::Seconds(5),
                    [&](auto forgotten) { answer.set_value(std::move(forgotten)); });
    return answer.get_future().get();
  }

  core::SubscriptionChoice Choice(const std::string& subscription, const std::string& channel,
                                  bool opted_in) {
    return {core::FieldId(core::Field::kSubscription, subscription),
            core::FieldId(core::Field::kChannel, channel), opted_in};
  }

  RedisServer redis_{{"--appendonly", "yes", "--appendfsync", "always"}};
  std::unique_ptr<store::RedisStore> store_ = std::make_unique<store::RedisStore>(
      store::RedisStoreOptions{.connection = {.host = "127.0.0.1", .port = redis_.port()}});
  std::shared_ptr<const core::Policy> policy_ = PolicyFromYaml(kPolicy);
  RealClock clock_;
  api::ContactHasher hasher_ = *api::ContactHasher::FromKey(std::string(64, 'k'));
  api::ProfileCache profiles_;
  api::Decider decider_{*store_, clock_, api::DeciderOptions{.store_timeout = absl::Seconds(2)},
                        hasher_, profiles_};
  api::PreferenceUpdater updater_{*store_, hasher_, profiles_, clock_};
};

// The promise of the preference centre: once an opt-out is acknowledged, no decision that
// starts afterwards allows a marketing message, whatever runs concurrently.
TEST_F(PreferencesTest, NoAllowAfterAnAcknowledgedOptOutUnderConcurrentDecisions) {
  int violations = 0;
  int allowed_before = 0;
  for (int round = 0; round < 1000; ++round) {
    const std::string contact = "round-" + std::to_string(round);
    ASSERT_TRUE(Update(contact, {.subscriptions = {Choice("newsletter", "email", true)}}).ok());
    std::atomic<bool> acknowledged{false};
    std::atomic<int> bad{0}, early{0};
    std::thread sender([&] {
      for (int i = 0; i < 6; ++i) {
        const bool after = acknowledged.load();
        const core::Decision decision = Decide(
            {.id = contact + "-" + std::to_string(i), .contact = contact,
             .subscription = "newsletter", .send_at = absl::Now() + absl::Hours(24 * i)});
        if (decision.outcome == Outcome::kAllow) ++(after ? bad : early);
      }
    });
    ASSERT_TRUE(Update(contact, {.global_opt_out = true}).ok());
    acknowledged = true;
    sender.join();
    violations += bad.load();
    allowed_before += early.load();
    // After the acknowledgement, certainly denied.
    EXPECT_EQ(Decide({.id = contact + "-after", .contact = contact, .subscription = "newsletter"})
                  .reasons.front().code,
              ReasonCode::kOptedOut);
  }
  EXPECT_EQ(violations, 0);
  EXPECT_GT(allowed_before, 0);  // the race was real: some sends went before the opt-out
}

TEST_F(PreferencesTest, UnsubscribingFromOneSubscriptionLeavesTheOthers) {
  ASSERT_TRUE(Update("u", {.subscriptions = {Choice("newsletter", "email", true),
                                             Choice("offers", "email", true),
                                             Choice("offers", "sms", true)}})
                  .ok());
  ASSERT_TRUE(Update("u", {.subscriptions = {Choice("offers", "email", false)}},
                     std::nullopt, v1::Evidence::UNSUBSCRIBE_LINK)
                  .ok());
  EXPECT_EQ(Decide({.id = "1", .contact = "u", .subscription = "newsletter"}).outcome,
            Outcome::kAllow);
  EXPECT_EQ(Decide({.id = "2", .contact = "u", .subscription = "offers"}).reasons[0].code,
            ReasonCode::kUnsubscribed);
  EXPECT_EQ(Decide({.id = "3", .contact = "u", .channel = "sms", .subscription = "offers"}).outcome,
            Outcome::kAllow);
  // Regimes: an unknown contact gets no opt-in newsletter, and opt-out notifications.
  EXPECT_EQ(Decide({.id = "4", .contact = "new", .subscription = "newsletter"}).reasons[0].code,
            ReasonCode::kNotOptedIn);
  EXPECT_EQ(
      Decide({.id = "5", .contact = "new", .channel = "push", .subscription = "notifications"})
          .outcome,
      Outcome::kAllow);
}

TEST_F(PreferencesTest, AStaleVersionIsRefusedAndANoOpWritesNothing) {
  absl::StatusOr<api::PreferenceUpdater::Updated> first = Update("v", {.global_opt_out = false});
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->changed);  // false was already the value: nothing written
  EXPECT_EQ(redis_.Cli({"EXISTS", store::PreferencesKey("v")}), "0");
  ASSERT_EQ(Update("v", {.global_opt_out = true}, 0)->preferences.version, 1);
  const absl::Status stale = Update("v", {.global_opt_out = false}, 0).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  EXPECT_THAT(std::string(stale.message()), ::testing::HasSubstr("stored version is 1"));
  EXPECT_EQ(Update("v", {.global_opt_out = false}, 1)->preferences.version, 2);
  // The consent trail and the change feed have both changes, newest first.
  EXPECT_EQ(redis_.Cli({"LLEN", store::ConsentTrailKey("v")}), "2");
  EXPECT_EQ(redis_.Cli({"XLEN", "sg:changes"}), "2");
}

TEST_F(PreferencesTest, APauseDefersAndTheContactsFrequencyLowersTheCap) {
  const absl::Time until = absl::Now() + absl::Hours(30);
  ASSERT_TRUE(Update("p", {.pause_until = until}).ok());
  const core::Decision paused = Decide({.id = "1", .contact = "p"});
  EXPECT_EQ(paused.outcome, Outcome::kDefer);
  EXPECT_EQ(*paused.retry_at, absl::FromUnixMillis(absl::ToUnixMillis(until)));
  ASSERT_TRUE(Update("p", {.clear_pause = true,
                           .frequency = {{.channel = core::FieldId(core::Field::kChannel, "email"),
                                          .limit = 1,
                                          .window = {.kind = core::WindowKind::kDay}}}})
                  .ok());
  EXPECT_EQ(Decide({.id = "2", .contact = "p"}).outcome, Outcome::kAllow);
  EXPECT_EQ(Decide({.id = "3", .contact = "p"}).reasons[0].code, ReasonCode::kContactFrequency);
  EXPECT_EQ(Decide({.id = "4", .contact = "p", .category = "transactional"}).outcome,
            Outcome::kAllow);
}

// A stored segment applies when a request leaves segments out: the inactive contact gets the
// cap's inactive limit (1 a day, not 2). Another replica, which has not learned it, answers
// the same after one more round trip.
TEST_F(PreferencesTest, TheStoredProfileFillsWhatARequestLeavesOut) {
  ASSERT_TRUE(Update("s", {.segments = std::vector<std::string>{"inactive"}}).ok());
  EXPECT_EQ(Decide({.id = "1", .contact = "s"}).outcome, Outcome::kAllow);
  const core::Decision second = Decide({.id = "2", .contact = "s"});
  EXPECT_EQ(second.outcome, Outcome::kDefer);
  EXPECT_EQ(second.reasons[0].limit, 1);
  api::ProfileCache other_replica;
  api::Decider other(*store_, clock_, api::DeciderOptions{.store_timeout = absl::Seconds(2)},
                     hasher_, other_replica);
  core::Message message = BuildMessage(*policy_, {.id = "3", .contact = "s", .send_at = absl::Now()});
  message.stored_segments.emplace();
  std::promise<core::Decision> answer;
  other.Decide(policy_, message, absl::Now() + absl::Seconds(5),
               [&](core::Decision decision, absl::Status) { answer.set_value(decision); });
  EXPECT_EQ(answer.get_future().get().reasons[0].limit, 1);
  EXPECT_TRUE(other_replica.Find("s").has_value());
}

TEST_F(PreferencesTest, AForgottenContactThatHadOptedOutStaysSuppressedWhenBroughtBack) {
  ASSERT_TRUE(Update("f", {.global_opt_out = true}).ok());
  EXPECT_EQ(Decide({.id = "t", .contact = "f", .category = "transactional"}).outcome,
            Outcome::kAllow);
  // A history a version before editions left goes too.
  redis_.Cli({"SET", store::V1MainHistoryKey("f"), std::string(32, 'x')});
  absl::StatusOr<api::PreferenceUpdater::Forgotten> forgotten = Forget("f");
  ASSERT_TRUE(forgotten.ok()) << forgotten.status();
  EXPECT_TRUE(forgotten->erased);
  EXPECT_TRUE(forgotten->suppressed);
  for (const std::string& key : {store::MainHistoryKey("f"), store::ExemptHistoryKey("f"),
                                 store::PreferencesKey("f"), store::ConsentTrailKey("f"),
                                 store::V1MainHistoryKey("f")}) {
    EXPECT_EQ(redis_.Cli({"EXISTS", key}), "0") << key;
  }
  // Only the keyed hash is left, never the id.
  EXPECT_EQ(redis_.Cli({"HKEYS", store::SuppressionKey("f")}), hasher_.Hash("f"));
  EXPECT_EQ(redis_.Cli({"KEYS", "*f*"}), "");
  EXPECT_EQ(Decide({.id = "1", .contact = "f"}).reasons[0].code, ReasonCode::kSuppressed);
  // A CRM import brings it back, opted in: still suppressed.
  ASSERT_TRUE(Update("f", {.global_opt_out = false,
                           .subscriptions = {Choice("newsletter", "email", true)}},
                     std::nullopt, v1::Evidence::IMPORT)
                  .ok());
  EXPECT_EQ(Decide({.id = "2", .contact = "f", .subscription = "newsletter"}).reasons[0].code,
            ReasonCode::kSuppressed);
  // The contact itself, in the preference centre, opts back in: the door opens.
  ASSERT_TRUE(Update("f", {.global_opt_out = false}).ok());
  EXPECT_EQ(Decide({.id = "3", .contact = "f", .subscription = "newsletter"}).outcome,
            Outcome::kAllow);
}

TEST_F(PreferencesTest, AnAcknowledgedUpdateSurvivesARedisCrash) {
  ASSERT_TRUE(Update("d", {.global_opt_out = true}).ok());
  redis_.Kill();  // SIGKILL: no shutdown save; the append-only file is all there is
  redis_.Start();
  for (int i = 0; i < 500 && !store_->healthy(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Decide({.id = "1", .contact = "d"}).reasons.front().code, ReasonCode::kOptedOut);
}

// With wait_replicas (--redis_wait_replicas), an update is acknowledged only once a replica
// has it (Redis WAIT): refused as UNAVAILABLE while the primary has no replica, acknowledged
// once one follows it, and then on the replica.
TEST_F(PreferencesTest, AnUpdateWaitsForTheReplicasAskedFor) {
  store::RedisStore waiting({.connection = {.host = "127.0.0.1", .port = redis_.port()},
                             .wait_replicas = 1});
  WaitUntilHealthy(waiting);
  api::PreferenceUpdater updater{waiting, hasher_, profiles_, clock_};
  // `deadline` after now: short where no replica can confirm, ample where one can (the CI
  // machine runs other tests beside this one).
  auto update = [&](const std::string& contact, absl::Duration deadline) {
    return OptOut(updater, contact, deadline).get();
  };
  const absl::Status alone = update("w1", absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsUnavailable(alone)) << alone;
  EXPECT_THAT(std::string(alone.message()), ::testing::HasSubstr("replicas"));

  const std::unique_ptr<RedisServer> replica = StartReplica();
  const absl::Status confirmed = update("w2", absl::Seconds(5));
  EXPECT_TRUE(confirmed.ok()) << confirmed;
  EXPECT_EQ(replica->Cli({"EXISTS", store::PreferencesKey("w2")}), "1");
}

// The caller retries an update its replicas did not confirm (UNAVAILABLE), as documented, and
// the retry finds the change already stored on the primary: it too is acknowledged only once a
// replica has it, never at once because it has nothing left to write.
TEST_F(PreferencesTest, ARetryThatFindsItsChangeStoredWaitsForTheReplicasToo) {
  store::RedisStore waiting({.connection = {.host = "127.0.0.1", .port = redis_.port()},
                             .wait_replicas = 1});
  WaitUntilHealthy(waiting);
  api::PreferenceUpdater updater{waiting, hasher_, profiles_, clock_};
  for (int attempt = 0; attempt < 2; ++attempt) {
    const absl::Status unconfirmed = OptOut(updater, "r", absl::Milliseconds(300)).get();
    EXPECT_TRUE(absl::IsUnavailable(unconfirmed)) << attempt << ": " << unconfirmed;
    EXPECT_THAT(std::string(unconfirmed.message()), ::testing::HasSubstr("replicas"));
  }
  const std::unique_ptr<RedisServer> replica = StartReplica();
  const absl::Status confirmed = OptOut(updater, "r", absl::Seconds(5)).get();
  EXPECT_TRUE(confirmed.ok()) << confirmed;
  EXPECT_EQ(replica->Cli({"EXISTS", store::PreferencesKey("r")}), "1");
  // One change, written once: the retries added no version and no consent event.
  EXPECT_EQ(redis_.Cli({"LLEN", store::ConsentTrailKey("r")}), "1");
  EXPECT_EQ(redis_.Cli({"XLEN", "sg:changes"}), "1");
}

// Redis runs nothing on a connection after a WAIT until the WAIT answers. So the writes that
// wait for replicas have a connection of their own: with no replica to confirm, a write holds
// only the writes behind it, never the decisions and reads of other contacts. Those held writes
// time out, but behind our own WAIT, which says nothing of the node: its circuit breaker stays
// closed (it would refuse every call to the node).
TEST_F(PreferencesTest, AWriteWaitingForReplicasHoldsNoDecisionAndOpensNoBreaker) {
  std::atomic<int> openings{0};
  store::RedisStore waiting(
      {.connection = {.host = "127.0.0.1", .port = redis_.port(),
                      .breaker = {.timeouts_to_open = 2}},
       .connections = 1,
       .wait_replicas = 1,
       .events = {.on_circuit = [&](bool open) { openings += open; }}});
  WaitUntilHealthy(waiting);
  api::PreferenceUpdater updater{waiting, hasher_, profiles_, clock_};
  auto update = [&](const std::string& contact, absl::Duration deadline) {
    return OptOut(updater, contact, deadline);
  };
  std::future<absl::Status> first = update("held-0", absl::Seconds(2));
  // No replica: the WAIT blocks its connection until its timeout.
  for (int i = 0; i < 500 && !absl::StrContains(redis_.Cli({"INFO", "clients"}),
                                                "blocked_clients:1");
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_THAT(redis_.Cli({"INFO", "clients"}), ::testing::HasSubstr("blocked_clients:1"));
  // Three more at once: each reads first (answered), then its write is held behind the first
  // one's WAIT until its deadline, the three timeouts in a row.
  std::vector<std::future<absl::Status>> held;
  for (int i = 1; i <= 3; ++i) {
    held.push_back(update("held-" + std::to_string(i), absl::Milliseconds(100)));
  }
  for (std::future<absl::Status>& each : held) {
    const absl::Status status = each.get();
    EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  }
  std::promise<absl::Status> read;
  waiting.ReadHistory("another-contact", absl::Now() + absl::Milliseconds(500),
                      [&](absl::StatusOr<core::History> history) {
                        read.set_value(history.status());
                      });
  EXPECT_TRUE(read.get_future().get().ok());  // not held, not refused
  EXPECT_EQ(openings.load(), 0);
  EXPECT_TRUE(absl::IsUnavailable(first.get()));  // no replica confirmed it
}

// A caller's deadline longer than the stall limit: the WAIT gives up short of that limit, and
// its connection is not taken for a stalled one (dropped, reopened).
TEST_F(PreferencesTest, AWaitEndsBeforeItsConnectionLooksStalled) {
  std::atomic<int> drops{0};
  store::RedisStore waiting({.connection = {.host = "127.0.0.1", .port = redis_.port(),
                                            .stall_timeout = absl::Milliseconds(500)},
                             .wait_replicas = 1,
                             .events = {.on_state = [&](bool up) { drops += !up; }}});
  WaitUntilHealthy(waiting);
  api::PreferenceUpdater updater{waiting, hasher_, profiles_, clock_};
  const absl::Status alone = OptOut(updater, "long-wait", absl::Seconds(5)).get();
  EXPECT_TRUE(absl::IsUnavailable(alone)) << alone;
  EXPECT_THAT(std::string(alone.message()), ::testing::HasSubstr("replicas"));  // not "lost"
  EXPECT_EQ(drops.load(), 0);
}

// What preferences add to a contact's memory in Redis (docs/redis.md): a typical preference
// centre profile stored in three updates, with its consent trail.
TEST_F(PreferencesTest, MemoryOfAContactsPreferences) {
  const std::string contact = "contact-0001234567";
  ASSERT_TRUE(Update(contact, {.subscriptions = {Choice("newsletter", "email", true),
                                                 Choice("offers", "email", true),
                                                 Choice("offers", "sms", false)}})
                  .ok());
  ASSERT_TRUE(Update(contact, {.frequency = {{.channel = core::FieldId(core::Field::kChannel, "email"),
                                              .limit = 2,
                                              .window = {.kind = core::WindowKind::kWeek}}},
                               .timezone = "Europe/Paris",
                               .segments = std::vector<std::string>{"reactive"}})
                  .ok());
  ASSERT_TRUE(Update(contact, {.pause_until = absl::Now() + absl::Hours(24 * 10)}).ok());
  auto usage = [&](const std::string& key) {
    int64_t bytes = 0;
    EXPECT_TRUE(absl::SimpleAtoi(redis_.Cli({"MEMORY", "USAGE", key}), &bytes)) << key;
    return bytes;
  };
  const int64_t preferences = usage(store::PreferencesKey(contact));
  const int64_t trail = usage(store::ConsentTrailKey(contact));
  std::printf("MEMORY USAGE of a contact's preferences: %lld bytes; of its consent trail "
              "(3 events): %lld bytes\n",
              static_cast<long long>(preferences), static_cast<long long>(trail));
  EXPECT_LE(preferences, 256);
}

}  // namespace
}  // namespace sendgate::testing
