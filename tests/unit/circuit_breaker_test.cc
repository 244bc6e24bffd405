// The circuit breaker of a Redis node, on instants given by the test (no clock, no waits).
#include "service/store/circuit_breaker.h"

#include <gtest/gtest.h>

#include <vector>

namespace sendgate::store {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);
absl::Time At(int ms) { return kStart + absl::Milliseconds(ms); }

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreaker breaker_{{.timeouts_to_open = 3, .open_for = absl::Milliseconds(500)},
                          [this](bool open) { changes_.push_back(open); }};
  std::vector<bool> changes_;
};

TEST_F(CircuitBreakerTest, OpensAfterTimeoutsInARowAndRefusesAtOnce) {
  breaker_.TimedOut(At(0));
  breaker_.TimedOut(At(1));
  EXPECT_TRUE(breaker_.closed());
  EXPECT_TRUE(breaker_.Admit(At(2)));
  breaker_.TimedOut(At(3));
  EXPECT_FALSE(breaker_.closed());
  EXPECT_FALSE(breaker_.Admit(At(4)));
  EXPECT_FALSE(breaker_.Admit(At(502)));
  EXPECT_EQ(changes_, std::vector<bool>{true});
}

TEST_F(CircuitBreakerTest, AnAnswerInTimeBreaksTheRun) {
  breaker_.TimedOut(At(0));
  breaker_.TimedOut(At(1));
  breaker_.AnsweredInTime();
  breaker_.TimedOut(At(2));
  breaker_.TimedOut(At(3));
  EXPECT_TRUE(breaker_.closed());
  EXPECT_TRUE(changes_.empty());
}

TEST_F(CircuitBreakerTest, LetsOneTrialThroughEachPeriod) {
  for (int i = 0; i < 3; ++i) breaker_.TimedOut(At(0));
  EXPECT_TRUE(breaker_.Admit(At(500)));   // the trial
  EXPECT_FALSE(breaker_.Admit(At(500)));  // the others still fail at once
  EXPECT_FALSE(breaker_.Admit(At(999)));
  EXPECT_TRUE(breaker_.Admit(At(1000)));  // the trial was not answered: another
}

TEST_F(CircuitBreakerTest, ATrialThatTimesOutKeepsItOpenForAFullPeriod) {
  for (int i = 0; i < 3; ++i) breaker_.TimedOut(At(0));
  ASSERT_TRUE(breaker_.Admit(At(600)));
  breaker_.TimedOut(At(850));  // the trial's deadline
  EXPECT_FALSE(breaker_.Admit(At(1100)));
  EXPECT_TRUE(breaker_.Admit(At(1350)));
  EXPECT_EQ(changes_, std::vector<bool>{true});
}

TEST_F(CircuitBreakerTest, ATrialAnsweredInTimeClosesIt) {
  for (int i = 0; i < 3; ++i) breaker_.TimedOut(At(0));
  ASSERT_TRUE(breaker_.Admit(At(500)));
  breaker_.AnsweredInTime();
  EXPECT_TRUE(breaker_.closed());
  EXPECT_TRUE(breaker_.Admit(At(501)));
  // A fresh run of timeouts is needed to open it again.
  breaker_.TimedOut(At(600));
  EXPECT_TRUE(breaker_.closed());
  EXPECT_EQ(changes_, (std::vector<bool>{true, false}));
}

TEST(CircuitBreaker, ZeroTimeoutsNeverOpens) {
  CircuitBreaker breaker({.timeouts_to_open = 0}, nullptr);
  for (int i = 0; i < 1000; ++i) breaker.TimedOut(At(i));
  EXPECT_TRUE(breaker.closed());
  EXPECT_TRUE(breaker.Admit(At(1000)));
}

}  // namespace
}  // namespace sendgate::store
