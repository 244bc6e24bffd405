// The hot path above the store: one store call per decision, the fail mode when the store
// fails, and store deadlines that respect the caller's.
#include "service/api/decider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/core_harness.h"
#include "tests/unit/fake_store.h"

namespace sendgate::api {
namespace {

using testing::Paris;

class FixedClock final : public Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = Paris(2026, 11, 2, 10);
};

class DeciderTest : public ::testing::Test {
 protected:
  core::Decision Decide(const testing::TestMessage& message,
                        absl::Time caller_deadline = absl::InfiniteFuture(),
                        absl::Status* store_status = nullptr) {
    std::optional<core::Decision> decision;
    decider_.Decide(policy_, testing::BuildMessage(*policy_, message), caller_deadline,
                    [&](core::Decision d, absl::Status status) {
                      decision = std::move(d);
                      if (store_status != nullptr) *store_status = status;
                    });
    EXPECT_TRUE(decision.has_value());
    return decision.value_or(core::Decision{});
  }

  std::shared_ptr<const core::Policy> policy_ = testing::PolicyFromYaml(R"yaml(
channels: [email]
categories:
  marketing: {}
  transactional: {exempt_from: [caps], on_store_failure: allow}
store_failure_retry: 30s
caps:
  - {id: email-1d, window: 1d, limit: 1}
)yaml");
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
  const core::Decision marketing = Decide({.id = "a", .send_at = clock_.now}, absl::InfiniteFuture(), &status);
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
  for (const absl::Status failure : {absl::OkStatus(), absl::UnavailableError("down")}) {
    store_.failure = failure;
    const core::Decision decision =
        Decide({.id = "late", .category = "transactional", .send_at = clock_.now - absl::Hours(1),
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

}  // namespace
}  // namespace sendgate::api
