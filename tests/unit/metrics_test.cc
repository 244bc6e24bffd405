// The metric catalog on prometheus-cpp: its text exposition, checked by hand and by promtool,
// including the two collectables of our own (the lock-free histogram, gauges read at scrape).
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/time/clock.h"
#include "service/metrics/catalog.h"
#include "service/metrics/log.h"
#include "tests/support/process.h"

namespace sendgate::metrics {
namespace {

using ::testing::HasSubstr;

google::protobuf::Struct LoggedLine(Severity severity, const std::string& component,
                                    const std::string& message) {
  ::testing::internal::CaptureStderr();
  Log(severity, component, message);
  const std::string line = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok()) << line;
  return parsed;
}

TEST(LogTest, OneJsonObjectPerLineWithLevelTimeComponentAndMessage) {
  const google::protobuf::Struct line =
      LoggedLine(Severity::kWarning, "store", "lost \"it\"\n\tline two \x01 \\ end");
  const auto& fields = line.fields();
  EXPECT_EQ(fields.at("level").string_value(), "warning");
  EXPECT_EQ(fields.at("component").string_value(), "store");
  EXPECT_EQ(fields.at("message").string_value(), "lost \"it\"\n\tline two \x01 \\ end");
  absl::Time time;
  std::string error;
  EXPECT_TRUE(
      absl::ParseTime("%Y-%m-%dT%H:%M:%E3SZ", fields.at("time").string_value(), &time, &error))
      << fields.at("time").string_value();
  EXPECT_LT(absl::AbsDuration(absl::Now() - time), absl::Minutes(1));
  EXPECT_EQ(LoggedLine(Severity::kError, "main", "x").fields().at("level").string_value(), "error");
}

TEST(LogTest, ContactIdsInRedisKeysAreReplacedByTheirTag) {
  SetLogContactKey("a secret of the deployment");
  const std::string message =
      LoggedLine(Severity::kError, "store", "WRONGTYPE at sg:{alice@example.com}:h and sg:{bob}:p")
          .fields()
          .at("message")
          .string_value();
  EXPECT_EQ(message, "WRONGTYPE at sg:{" + ContactForLog("alice@example.com") + "}:h and sg:{" +
                         ContactForLog("bob") + "}:p");
  EXPECT_THAT(ContactForLog("alice@example.com"), ::testing::MatchesRegex("#[0-9a-f]{16}"));
  EXPECT_NE(ContactForLog("alice@example.com"), ContactForLog("bob"));
  const std::string before = ContactForLog("alice@example.com");
  SetLogContactKey("another deployment");
  EXPECT_NE(ContactForLog("alice@example.com"), before);
}

TEST(LogTest, LinesBelowTheLevelAreNotWritten) {
  SetLogLevel(Severity::kWarning);
  ::testing::internal::CaptureStderr();
  Log(Severity::kInfo, "main", "quiet");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  SetLogLevel(Severity::kInfo);
}

TEST(CatalogTest, RendersCountersGaugesAndHistograms) {
  Catalog catalog;
  catalog.decisions.With({"allow", "email", "marketing"}).Increment(3);
  catalog.invalid_requests.With({"Decide", "de\"ny\\\n"}).Increment();
  catalog.policy_info.With({"v1"}).Set(1);
  LatencyCell& seconds = catalog.decision_seconds.With({"Decide"});
  seconds.Observe(0.00005);
  seconds.Observe(0.0002);
  seconds.Observe(5);
  catalog.store_up.ReadFrom([] { return 1.0; });

  const std::string text = catalog.Exposition();
  EXPECT_THAT(text, HasSubstr("# TYPE sendgate_decisions_total counter\n"));
  EXPECT_THAT(text, HasSubstr("sendgate_decisions_total{category=\"marketing\",channel=\"email\","
                              "outcome=\"allow\"} 3\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "sendgate_invalid_requests_total{field=\"de\\\"ny\\\\\\n\",method=\"Decide\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sendgate_policy_info{version=\"v1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE sendgate_decision_duration_seconds histogram\n"));
  EXPECT_THAT(
      text,
      HasSubstr("sendgate_decision_duration_seconds_bucket{method=\"Decide\",le=\"0.0001\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("sendgate_decision_duration_seconds_bucket{method=\"Decide\",le=\"0.00025\"} 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr("sendgate_decision_duration_seconds_bucket{method=\"Decide\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("sendgate_decision_duration_seconds_count{method=\"Decide\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("sendgate_store_up 1\n"));
  EXPECT_THAT(text, HasSubstr("sendgate_calls_in_progress 0\n"));
}

// Observations from many threads at once, without a lock: none is lost.
TEST(CatalogTest, TheHistogramCountsEveryObservationFromManyThreads) {
  Catalog catalog;
  LatencyCell& cell = catalog.decision_seconds.With({"Decide"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cell] {
      for (int i = 0; i < 10000; ++i) cell.Observe(0.001);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const prometheus::ClientMetric::Histogram read = cell.Read();
  EXPECT_EQ(read.sample_count, 40000u);
  EXPECT_NEAR(read.sample_sum, 40.0, 1e-6);
}

TEST(CatalogTest, AnUnlabelledCounterIsShownAtZeroFromTheStart) {
  Catalog catalog;
  EXPECT_THAT(catalog.Exposition(),
              ::testing::HasSubstr("\nsendgate_store_library_reloads_total 0\n"));
}

TEST(CatalogTest, PromtoolAcceptsTheExposition) {
  Catalog catalog;
  catalog.store_errors.With({"timeout"}).Increment();
  catalog.decision_seconds.With({"DecideStream"}).Observe(0.5);
  catalog.store_library_reloads.With({}).Increment();
  testing::TempDir dir;
  const std::string path = dir.path() + "/metrics.txt";
  std::ofstream(path) << catalog.Exposition();
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  std::string output;
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace sendgate::metrics
