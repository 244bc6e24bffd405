// The hot path above the store: one store call per decision, the fail mode when the store
// fails, and store deadlines that respect the caller's.
#include "service/api/decider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "tests/unit/core_harness.h"
#include "tests/unit/fake_store.h"

namespace sendgate::api {
namespace {

using testing::Paris;

const char* const kPolicy = R"yaml(
channels: [email]
categories:
  marketing: {}
  transactional: {exempt_from: [caps], on_store_failure: allow}
store_failure_retry: 30s
caps:
  - {id: email-1d, window: 1d, limit: 1}
)yaml";

class FixedClock final : public Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = Paris(2026, 11, 2, 10);
};

class DeciderTest : public ::testing::Test {
 protected:
  core::Decision Decide(const testing::TestMessage& message,
                        absl::Time caller_deadline = absl::InfiniteFuture(),
                        absl::Status* store_status = nullptr,
                        std::optional<Shadow> shadow = std::nullopt) {
    std::optional<core::Decision> decision;
    decider_.Decide(
        policy_, testing::BuildMessage(*policy_, message), caller_deadline,
        [&](core::Decision d, absl::Status status) {
          decision = std::move(d);
          if (store_status != nullptr) *store_status = status;
        },
        std::move(shadow));
    EXPECT_TRUE(decision.has_value());
    return decision.value_or(core::Decision{});
  }

  std::shared_ptr<const core::Policy> policy_ = testing::PolicyFromYaml(kPolicy);
  testing::FakeStore store_;
  FixedClock clock_;
  ContactHasher hasher_;
  ProfileCache profiles_;
  Decider decider_{store_, clock_, DeciderOptions{.store_timeout = absl::Milliseconds(100)},
                   hasher_, profiles_};
};

TEST_F(DeciderTest, DecidesThroughTheStore) {
  EXPECT_EQ(Decide({.id = "a", .send_at = clock_.now}).outcome, core::Outcome::kAllow);
  EXPECT_EQ(Decide({.id = "b", .send_at = clock_.now}).outcome, core::Outcome::kDefer);
}

TEST_F(DeciderTest, TheFailModeDecidesWhenTheStoreFails) {
  store_.failure = absl::UnavailableError("Redis is not connected");
  absl::Status status;
  const core::Decision marketing =
      Decide({.id = "a", .send_at = clock_.now}, absl::InfiniteFuture(), &status);
  EXPECT_EQ(marketing.outcome, core::Outcome::kDefer);
  EXPECT_TRUE(marketing.degraded);
  EXPECT_EQ(*marketing.retry_at, clock_.now + absl::Seconds(30));
  EXPECT_TRUE(absl::IsUnavailable(status));
  const core::Decision receipt =
      Decide({.id = "b", .category = "transactional", .send_at = clock_.now});
  EXPECT_EQ(receipt.outcome, core::Outcome::kAllow);
  EXPECT_TRUE(receipt.degraded);
}

// The fail mode answers only for a message that could still go out: an expired one is denied
// before the store is asked, the same way whether Redis is up or down.
TEST_F(DeciderTest, AnExpiredMessageIsDeniedWithoutTheStoreEvenWhenItIsDown) {
  for (const absl::Status& failure : {absl::OkStatus(), absl::UnavailableError("down")}) {
    store_.failure = failure;
    const core::Decision decision = Decide({.id = "late",
                                            .category = "transactional",
                                            .send_at = clock_.now - absl::Hours(1),
                                            .expires_at = clock_.now - absl::Minutes(1)});
    EXPECT_EQ(decision.outcome, core::Outcome::kDeny);
    EXPECT_FALSE(decision.degraded);
    EXPECT_EQ(decision.reasons[0].code, core::ReasonCode::kExpired);
  }
  EXPECT_EQ(store_.checks, 0);
}

TEST_F(DeciderTest, TheStoreDeadlineIsTheTimeoutOrTheCallersDeadlineLessAMargin) {
  Decide({.id = "a", .send_at = clock_.now});
  EXPECT_EQ(store_.last_deadline, clock_.now + absl::Milliseconds(100));
  Decide({.id = "b", .send_at = clock_.now}, clock_.now + absl::Milliseconds(50));
  EXPECT_EQ(store_.last_deadline, clock_.now + absl::Milliseconds(40));  // 50 - 5 - 50/10
}


// Shadow mode: a candidate policy with 2 a day instead of 1 decides beside the policy in force,
// in the same store call, and only the policy in force is recorded.
class ShadowTest : public DeciderTest {
 protected:
  struct Compared {
    core::Outcome active;
    std::optional<core::Outcome> candidate;
  };
  core::Decision DecideWithShadow(const testing::TestMessage& message) {
    Shadow shadow{candidate_, testing::BuildMessage(*candidate_, message),
                  [this](const core::Decision& active, std::optional<core::Decision> candidate) {
                    compared_.push_back({active.outcome, candidate.has_value()
                                                             ? std::optional(candidate->outcome)
                                                             : std::nullopt});
                  }};
    return Decide(message, absl::InfiniteFuture(), nullptr, std::move(shadow));
  }

  std::shared_ptr<const core::Policy> candidate_ = testing::PolicyFromYaml(absl::StrReplaceAll(
      kPolicy, {{"{id: email-1d, window: 1d, limit: 1}", "{id: email-2d, window: 1d, limit: 2}"}}));
  std::vector<Compared> compared_;
};

TEST_F(ShadowTest, TheCandidateDecidesInTheSameStoreCallAndIsNeverRecorded) {
  EXPECT_EQ(DecideWithShadow({.id = "a", .send_at = clock_.now}).outcome, core::Outcome::kAllow);
  EXPECT_EQ(DecideWithShadow({.id = "b", .send_at = clock_.now}).outcome, core::Outcome::kDefer);
  EXPECT_EQ(DecideWithShadow({.id = "c", .send_at = clock_.now}).outcome, core::Outcome::kDefer);
  EXPECT_EQ(store_.checks, 3);
  ASSERT_EQ(compared_.size(), 3u);
  // "b": the candidate would send it (one recorded send, limit 2); "c" too, since the
  // candidate's allowed "b" was never recorded.
  EXPECT_EQ(compared_[0].candidate, core::Outcome::kAllow);
  EXPECT_EQ(compared_[1].active, core::Outcome::kDefer);
  EXPECT_EQ(compared_[1].candidate, core::Outcome::kAllow);
  EXPECT_EQ(compared_[2].candidate, core::Outcome::kAllow);
  EXPECT_EQ(store_.History("c1").main.size(), 1u);
}

TEST_F(ShadowTest, AReplayOrAStoreFailureIsNotCompared) {
  DecideWithShadow({.id = "a", .send_at = clock_.now});
  DecideWithShadow({.id = "a", .send_at = clock_.now});
  store_.failure = absl::UnavailableError("Redis is not connected");
  DecideWithShadow({.id = "b", .send_at = clock_.now});
  ASSERT_EQ(compared_.size(), 3u);
  EXPECT_EQ(compared_[1].candidate, std::nullopt);
  EXPECT_EQ(compared_[2].candidate, std::nullopt);
}

}  // namespace
}  // namespace sendgate::api
