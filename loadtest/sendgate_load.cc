// sendgate_load: drives load at a running sendgate and reports throughput, latency percentiles
// and outcomes (see driver.h for the method). Also prints a fixed replay of the mixed traffic's
// decide.lua calls in RESP (for redis-cli --pipe), so that the benchmark can measure Redis's
// work per decision for the very commands sendgate sends, and against the floor function's
// (loadtest/redis_work.sh).
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "loadtest/driver.h"
#include "loadtest/report.h"
#include "loadtest/traffic.h"
#include "service/api/request_validation.h"
#include "service/core/names.h"
#include "service/core/plan.h"
#include "service/ctl/client_tls.h"
#include "service/policy/loader.h"
#include "service/store/decide_call.h"
#include "service/store/lua_library.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "sendgate gRPC address");
ABSL_FLAG(std::string, cacert, "", "TLS: the CA certificates (PEM) of sendgate's; empty: plaintext");
ABSL_FLAG(std::string, cert, "", "mutual TLS: the generator's certificate chain (PEM)");
ABSL_FLAG(std::string, key, "", "mutual TLS: the private key of --cert (PEM)");
ABSL_FLAG(std::string, mode, "unary", "ping (the empty RPC), unary (Decide) or stream (DecideStream)");
ABSL_FLAG(std::string, scenario, "mixed", "mixed (Zipf contacts, channel mix) or blast (one campaign)");
ABSL_FLAG(double, rate, 0, "open loop: requests per second in all; 0 = closed loop");
ABSL_FLAG(int, concurrency, 64, "closed loop: requests outstanding per thread");
ABSL_FLAG(int, threads, 1, "generator threads, each with its own connections");
ABSL_FLAG(int, connections, 2, "HTTP/2 connections per thread");
ABSL_FLAG(int, streams, 2, "stream mode: DecideStreams per thread");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "time before measuring");
ABSL_FLAG(uint64_t, requests, 0, "send exactly this many requests (no warmup), then stop");
ABSL_FLAG(int, update_percent, 0,
          "unary mode: this percentage of the calls are Preferences.Update of the same contacts");
ABSL_FLAG(int, contacts, 1000000, "contact id space");
ABSL_FLAG(std::string, run, "", "prefix of contact and message ids (default: the time)");
ABSL_FLAG(std::string, label, "run", "name of this run in the report");
ABSL_FLAG(std::string, json, "", "append the result as one JSON line to this file");
ABSL_FLAG(uint64_t, print_redis_replay, 0,
          "print, in RESP, the FCALLs sendgate sends for this many decisions of the mixed "
          "traffic under --policy (contacts --run-c<rank>), and exit");
ABSL_FLAG(std::string, replay_function, "decide",
          "--print_redis_replay: the function called, decide or decide_floor (same KEYS and "
          "ARGV: the yardstick of decide's Redis work)");
ABSL_FLAG(std::string, policy, "policies/default.yaml",
          "policy for --print_redis_replay");

namespace sendgate::loadtest {
namespace {

// The decide.lua calls of `count` decisions of the mixed traffic, as sendgate would send them
// now (no suppression key, as the benchmark's sendgate), to `function` in RESP. The same flags
// give the same contacts and messages, so a replay through decide and one through
// decide_floor touch the same keys with the same arguments. The library's FUNCTION LOAD
// comes first.
int PrintRedisReplay(uint64_t count, const std::string& function) {
  if (function != "decide" && function != "decide_floor") {
    std::cerr << "--replay_function: decide or decide_floor, not '" << function << "'\n";
    return 2;
  }
  auto policy = policy::LoadPolicyFile(absl::GetFlag(FLAGS_policy));
  if (!policy.ok()) {
    std::cerr << policy.status().message() << "\n";
    return 1;
  }
  Traffic traffic(Scenario::kMixed, absl::GetFlag(FLAGS_run), absl::GetFlag(FLAGS_contacts),
                  /*seed=*/1);
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  const char* name = function == "decide" ? store::kDecideFunction : store::kDecideFloorFunction;
  v1::DecideRequest request;
  // The library first (Redis answers an error, counted by redis-cli --pipe, when it has it).
  std::string commands = store::FormatLibraryLoad();
  for (uint64_t i = 0; i < count; ++i) {
    traffic.Fill(0, i, request);
    absl::StatusOr<core::Message> message = api::MessageFromRequest(request, **policy, now);
    if (!message.ok()) {
      std::cerr << "request " << i << ": " << message.status().message() << "\n";
      return 1;
    }
    commands += store::DecideCommand(core::PlanCheck(**policy, *message, now), nullptr, name);
    if (commands.size() > (1 << 20)) {
      std::cout << commands;
      commands.clear();
    }
  }
  std::cout << commands << std::flush;
  return 0;
}

int Main() {
  if (absl::GetFlag(FLAGS_print_redis_replay) > 0) {
    if (absl::GetFlag(FLAGS_run).empty()) {
      std::cerr << "--print_redis_replay needs --run (the same for both functions)\n";
      return 2;
    }
    return PrintRedisReplay(absl::GetFlag(FLAGS_print_redis_replay),
                            absl::GetFlag(FLAGS_replay_function));
  }
  RunOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ctl::ChannelCredentials({.ca_file = absl::GetFlag(FLAGS_cacert),
                               .cert_file = absl::GetFlag(FLAGS_cert),
                               .key_file = absl::GetFlag(FLAGS_key)});
  if (!credentials.ok()) {
    std::cerr << credentials.status().message() << "\n";
    return 2;
  }
  options.credentials = *credentials;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  options.mode = mode == "ping" ? Mode::kPing : mode == "stream" ? Mode::kStream : Mode::kUnary;
  options.scenario = absl::GetFlag(FLAGS_scenario) == "blast" ? Scenario::kBlast : Scenario::kMixed;
  options.run = absl::GetFlag(FLAGS_run);
  if (options.run.empty()) options.run = absl::StrCat("r", absl::ToUnixSeconds(absl::Now()));
  options.contacts = absl::GetFlag(FLAGS_contacts);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.connections = absl::GetFlag(FLAGS_connections);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.streams = absl::GetFlag(FLAGS_streams);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.requests = absl::GetFlag(FLAGS_requests);
  options.update_percent = absl::GetFlag(FLAGS_update_percent);

  Results results;
  if (!RunLoad(options, results)) return 1;
  const std::string label = absl::GetFlag(FLAGS_label);
  std::cout << ToText(label, options, results) << ToFields(label, results) << std::flush;
  if (!absl::GetFlag(FLAGS_json).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json), std::ios::app) << ToJson(label, options, results) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace sendgate::loadtest

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return sendgate::loadtest::Main();
}
