#include "loadtest/report.h"

#include "absl/strings/str_format.h"

namespace sendgate::loadtest {
namespace {

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kPing: return "ping";
    case Mode::kUnary: return "unary";
    case Mode::kStream: return "stream";
  }
  return "?";
}

double Throughput(const Results& results) {
  const double seconds = absl::ToDoubleSeconds(results.measured_time);
  return seconds > 0 ? static_cast<double>(results.measured.load()) / seconds : 0;
}

double Micros(int64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

}  // namespace

std::string ToJson(const std::string& label, const RunOptions& options, const Results& results) {
  const LatencyHistogram& latency = results.latency;
  return absl::StrFormat(
      R"({"label":"%s","mode":"%s","scenario":"%s","rate":%.0f,"concurrency":%d,"threads":%d,)"
      R"("connections":%d,"streams":%d,"seconds":%.3f,"sent":%d,"measured":%d,"errors":%d,)"
      R"("throughput":%.1f,"latency_us":{"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,)"
      R"("max":%.1f,"mean":%.1f},"outcomes":{"allow":%d,"deny":%d,"defer":%d,"degraded":%d,)"
      R"("invalid":%d}})",
      label, ModeName(options.mode), options.scenario == Scenario::kBlast ? "blast" : "mixed",
      options.rate, options.concurrency, options.threads, options.connections, options.streams,
      absl::ToDoubleSeconds(results.measured_time), results.sent.load(), results.measured.load(),
      results.errors.load(), Throughput(results), Micros(latency.Quantile(0.5)),
      Micros(latency.Quantile(0.9)), Micros(latency.Quantile(0.99)),
      Micros(latency.Quantile(0.999)), Micros(latency.Max()), latency.Mean() / 1000.0,
      results.allow.load(), results.deny.load(), results.defer.load(), results.degraded.load(),
      results.invalid.load());
}

std::string ToText(const std::string& label, const RunOptions& options, const Results& results) {
  const LatencyHistogram& latency = results.latency;
  return absl::StrFormat(
      "%s (%s, %s): %.0f req/s measured over %.1f s, %d errors\n"
      "  latency from intended send: p50 %.0f us  p90 %.0f us  p99 %.0f us  p99.9 %.0f us  "
      "max %.0f us\n"
      "  outcomes: allow %d  deny %d  defer %d  degraded %d  invalid %d\n",
      label, ModeName(options.mode),
      options.rate > 0 ? absl::StrFormat("open loop at %.0f/s", options.rate)
                       : absl::StrFormat("closed loop, %d outstanding per thread",
                                         options.concurrency),
      Throughput(results), absl::ToDoubleSeconds(results.measured_time), results.errors.load(),
      Micros(latency.Quantile(0.5)), Micros(latency.Quantile(0.9)),
      Micros(latency.Quantile(0.99)), Micros(latency.Quantile(0.999)), Micros(latency.Max()),
      results.allow.load(), results.deny.load(), results.defer.load(), results.degraded.load(),
      results.invalid.load());
}

std::string ToFields(const std::string& label, const Results& results) {
  const LatencyHistogram& latency = results.latency;
  return absl::StrFormat(
      "RESULT label=%s throughput=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f "
      "max_us=%.0f errors=%d allow=%d deny=%d defer=%d degraded=%d invalid=%d updates=%d "
      "measured=%d seconds=%.2f\n",
      label, Throughput(results), Micros(latency.Quantile(0.5)), Micros(latency.Quantile(0.9)),
      Micros(latency.Quantile(0.99)), Micros(latency.Quantile(0.999)), Micros(latency.Max()),
      results.errors.load(), results.allow.load(), results.deny.load(), results.defer.load(),
      results.degraded.load(), results.invalid.load(), results.updates.load(),
      results.measured.load(), absl::ToDoubleSeconds(results.measured_time));
}

}  // namespace sendgate::loadtest
