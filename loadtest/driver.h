// Drives load at sendgate with gRPC's completion-queue client, one event loop per generator
// thread. Open loop (a rate): request i is due at start + i/rate whatever happened before, and its
// latency runs from that intended instant, so a stalled server shows in the latency instead of
// slowing the generator down (no coordinated omission). Closed loop (a concurrency): a fixed
// number of requests outstanding, to find a ceiling.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "loadtest/histogram.h"
#include "loadtest/traffic.h"

namespace sendgate::loadtest {

enum class Mode { kPing, kUnary, kStream };

struct RunOptions {
  std::string target;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // plaintext or TLS
  Mode mode = Mode::kUnary;
  Scenario scenario = Scenario::kMixed;
  std::string run;              // prefix of contact and message ids
  int contacts = 1000000;
  int threads = 1;
  int connections = 2;          // HTTP/2 connections per thread
  double rate = 0;              // requests per second, all threads; 0 = closed loop
  int concurrency = 64;         // closed loop: outstanding requests per thread
  int streams = 2;              // stream mode: streams per thread
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(2);  // not measured
  uint64_t requests = 0;        // when set: send exactly this many (no warmup) and stop
  int update_percent = 0;       // unary mode: this share of calls are Preferences.Update
};

struct Results {
  LatencyHistogram latency;  // measured requests, from intended send time to answer
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> answered{0};  // every answer, measured or not, errors included
  std::atomic<uint64_t> measured{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> allow{0};
  std::atomic<uint64_t> deny{0};
  std::atomic<uint64_t> defer{0};
  std::atomic<uint64_t> degraded{0};
  std::atomic<uint64_t> invalid{0};
  std::atomic<uint64_t> updates{0};  // Preferences.Update calls answered OK
  absl::Duration measured_time;  // the window the measured requests were due in
};

// Runs the load described by `options` and fills `results`, with a progress line per second on
// stderr; returns false when the target cannot be reached.
bool RunLoad(const RunOptions& options, Results& results);

}  // namespace sendgate::loadtest
