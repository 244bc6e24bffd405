// Faults during load, on a single Redis and on a Redis Cluster (3 primaries, 3 replicas): Redis
// killed and restarted, made slow (DEBUG SLEEP: once for 2 s, and over and over so that it
// still answers, late), frozen (SIGSTOP: its port open, nothing answered). Decisions run all along from 4 threads, each with a 1 s gRPC deadline. Required:
// sendgate never crashes, every call is answered before its deadline (by Redis or by the fail
// mode: marketing is DEFERred), and Redis answers again within seconds of the fault's end. The
// figures (how long, how many degraded answers) are printed: docs/redis.md, "Faults".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/e2e/fixture.h"
#include "tests/support/redis_cluster.h"

namespace sendgate::testing {
namespace {

struct Answer {
  absl::Time at;
  bool ok = false;  // answered within the deadline (any outcome)
  bool degraded = false;
  absl::Duration took;
};

// Decisions from `threads` threads until stopped; every answer kept, in order of arrival.
class Load {
 public:
  Load(std::function<grpc::Status(const v1::DecideRequest&, v1::DecideResponse*)> call,
       std::function<v1::DecideRequest(int)> request, int threads = 4) {
    for (int t = 0; t < threads; ++t) {
      workers_.emplace_back([this, call, request, t] {
        for (int i = t; !stop_; i += 4) {
          v1::DecideResponse response;
          const absl::Time asked = absl::Now();
          const grpc::Status status = call(request(i), &response);
          const absl::Time at = absl::Now();
          std::lock_guard<std::mutex> lock(mutex_);
          answers_.push_back({at, status.ok(), response.degraded(), at - asked});
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

  // Answers after `since`.
  std::vector<Answer> Since(absl::Time since) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Answer> after;
    for (const Answer& answer : answers_) {
      if (answer.at >= since) after.push_back(answer);
    }
    return after;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Answer> answers_;
  std::vector<std::thread> workers_;
};

// sendgate's default: how long a call waits for Redis before the fail mode answers.
const absl::Duration kRedisTimeout = absl::Milliseconds(250);

// Waits (up to 30 s) for `healthy_answers` answers in a row from Redis after `since`; the time
// the first of them came, or InfiniteFuture.
absl::Time RecoveredAt(Load& load, absl::Time since, int healthy_answers = 50) {
  for (int i = 0; i < 300; ++i) {
    int run = 0;
    for (const Answer& answer : load.Since(since)) {
      run = answer.ok && !answer.degraded ? run + 1 : 0;
      if (run == healthy_answers) return answer.at;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::InfiniteFuture();
}

// One fault: `inject` at once, `heal` after `lasting`; checks and prints what the load saw.
void Survive(const std::string& name, Load& load, std::function<void()> inject,
             std::function<void()> heal, absl::Duration lasting = absl::Seconds(2)) {
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const absl::Time start = absl::Now();
  inject();
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(lasting));
  heal();
  const absl::Time healed = absl::Now();
  const absl::Time recovered = RecoveredAt(load, healed);
  const std::vector<Answer> answers = load.Since(start);
  int failed = 0, degraded = 0, waited = 0;
  for (const Answer& answer : answers) {
    failed += !answer.ok;
    degraded += answer.degraded;
    waited += answer.degraded && answer.took >= kRedisTimeout;
  }
  std::cout << "chaos " << name << ": " << answers.size() << " answers, " << degraded
            << " by the fail mode (" << waited << " of them after waiting --redis_timeout), "
            << failed << " past their deadline; Redis answered again "
            << (recovered == absl::InfiniteFuture()
                    ? std::string("never")
                    : absl::FormatDuration(recovered - healed) + " after the fault ended")
            << "\n";
  EXPECT_EQ(failed, 0) << name << ": every call is answered within its deadline";
  ASSERT_LT(recovered, absl::InfiniteFuture()) << name;
  EXPECT_LT(recovered - healed, absl::Seconds(15)) << name;
}

grpc::Status CallWithin(v1::Arbiter::Stub& stub, const v1::DecideRequest& request,
                        v1::DecideResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  return stub.Decide(&context, request, response);
}

class ChaosTest : public SendgateTest {
 protected:
  std::unique_ptr<Load> StartLoad() {
    return std::make_unique<Load>(
        [this](const v1::DecideRequest& request, v1::DecideResponse* response) {
          return CallWithin(*stub_, request, response);
        },
        [this](int i) {
          v1::DecideRequest request = Email(absl::StrCat("chaos-", i), absl::StrCat("c", i % 5000));
          request.set_campaign_id(absl::StrCat("campaign-", i % 7));
          return request;
        });
  }

  // The process still answers (a crashed one would be a zombie, which kill(pid, 0) counts).
  bool Alive() { return HttpGet(metrics_port_, "/healthz").find(" 200 ") != std::string::npos; }

  // A Redis slowed down, not stopped: asleep 0.8 s at a time (DEBUG SLEEP), over and over,
  // answering what waited in between; most calls pass their deadline, some are answered. The
  // node's circuit breaker must open (its calls then fail at once) and close again after.
  void SurviveSlowRedis(const std::string& name, Load& load, RedisServer& redis) {
    const double openings = CircuitChanges("open");
    std::atomic<bool> healed{false};
    std::thread sleeper;
    Survive(
        name, load,
        [&] {
          sleeper = std::thread([&] {
            while (!healed) redis.Cli({"DEBUG", "SLEEP", "0.8"});
          });
        },
        [&] {
          healed = true;
          sleeper.join();
        });
    EXPECT_GT(CircuitChanges("open"), openings) << name << ": the circuit breaker opened";
    EXPECT_GT(Metric(R"(sendgate_store_errors_total\{kind="circuit_open"\})"), 0) << name;
  }

  double CircuitChanges(const std::string& state) {
    return Metric(R"(sendgate_store_circuit_changes_total\{state=")" + state + R"("\})");
  }
};

TEST_F(ChaosTest, ASingleRedisKilledSlowedAndFrozen) {
  auto load = StartLoad();
  Survive(
      "single Redis killed, restarted 2 s later", *load, [&] { redis_.Kill(); },
      [&] { redis_.Start(); });
  std::thread sleeper;
  Survive(
      "single Redis DEBUG SLEEP 2", *load,
      [&] { sleeper = std::thread([&] {
              redis_.Cli({"DEBUG", "SLEEP", "2"});
            }); },
      [&] { sleeper.join(); });
  SurviveSlowRedis("single Redis slowed (DEBUG SLEEP 0.8, over and over) 2 s", *load, redis_);
  Survive(
      "single Redis frozen (SIGSTOP) 2 s", *load, [&] { redis_.Pause(); },
      [&] { redis_.Resume(); });
  load->Stop();
  EXPECT_TRUE(Alive());
}

class ClusterChaosTest : public ChaosTest {
 protected:
  std::string RedisAddress() const override { return cluster_.seeds(); }
  RedisCluster cluster_;
};

TEST_F(ClusterChaosTest, APrimaryKilledSlowedAndFrozen) {
  auto load = StartLoad();
  // Each fault on the primary that serves contact c0 at that moment.
  auto victim = [&] { return cluster_.PrimaryOf("sg:{c0}:h2"); };
  int killed = victim();
  ASSERT_GE(killed, 0);
  Survive(
      "cluster primary killed, restarted 2 s later (its replica takes over)", *load,
      [&] {
        cluster_.node(killed).Kill();
        cluster_.MarkDead(killed);
      },
      [&] {
        cluster_.node(killed).Start();  // comes back as a replica of its successor
        cluster_.MarkAlive(killed);
      });
  ASSERT_TRUE(cluster_.WaitUntilHealthy(30));
  const int slowed = victim();
  ASSERT_GE(slowed, 0);
  std::thread sleeper;
  Survive(
      "cluster primary DEBUG SLEEP 2", *load,
      [&] {
        sleeper = std::thread([&, slowed] { cluster_.node(slowed).Cli({"DEBUG", "SLEEP", "2"}); });
      },
      [&] { sleeper.join(); });
  ASSERT_TRUE(cluster_.WaitUntilHealthy(30));
  const int dragging = victim();
  ASSERT_GE(dragging, 0);
  SurviveSlowRedis("cluster primary slowed (DEBUG SLEEP 0.8, over and over) 2 s", *load,
                   cluster_.node(dragging));
  ASSERT_TRUE(cluster_.WaitUntilHealthy(30));
  const int frozen = victim();
  ASSERT_GE(frozen, 0);
  Survive(
      "cluster primary frozen (SIGSTOP) 2 s", *load, [&] { cluster_.node(frozen).Pause(); },
      [&] { cluster_.node(frozen).Resume(); });
  load->Stop();
  EXPECT_TRUE(Alive());
}

}  // namespace
}  // namespace sendgate::testing
