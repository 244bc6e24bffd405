// The metrics module: the text exposition format, checked by hand and by promtool.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "service/metrics/registry.h"
#include "tests/support/process.h"

namespace sendgate::metrics {
namespace {

using ::testing::HasSubstr;

TEST(RegistryTest, RendersCountersGaugesAndHistograms) {
  Registry registry;
  Family<Counter>& decisions = registry.AddCounter("t_decisions_total", "Decisions.", {"outcome"});
  decisions.With({"allow"}).Increment(3);
  decisions.With({"de\"ny\\\n"}).Increment();
  registry.AddGauge("t_up", "Up.").With({}).Set(1);
  Histogram& seconds =
      registry.AddHistogram("t_seconds", "Latency.", {"method"}, {0.001, 0.01}).With({"Decide"});
  seconds.Observe(0.0005);
  seconds.Observe(0.005);
  seconds.Observe(5);
  registry.AddGaugeFunction("t_read", "Read at scrape.", [] { return 2.5; });

  const std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("# HELP t_decisions_total Decisions.\n# TYPE t_decisions_total counter\n"));
  EXPECT_THAT(text, HasSubstr("t_decisions_total{outcome=\"allow\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("t_decisions_total{outcome=\"de\\\"ny\\\\\\n\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("t_up 1\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{method=\"Decide\",le=\"0.001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{method=\"Decide\",le=\"0.01\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{method=\"Decide\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_sum{method=\"Decide\"} 5.0055\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_count{method=\"Decide\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("t_read 2.5\n"));
}

TEST(RegistryTest, PromtoolAcceptsTheExposition) {
  Registry registry;
  registry.AddCounter("t_events_total", "Events.", {"kind"}).With({"a"}).Increment();
  registry.AddHistogram("t_latency_seconds", "Latency.", {}, {0.1, 1}).With({}).Observe(0.5);
  testing::TempDir dir;
  const std::string path = dir.path() + "/metrics.txt";
  std::ofstream(path) << registry.Exposition();
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
