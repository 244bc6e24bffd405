// sendgate: flags and config file -> wiring. SIGTERM/SIGINT shut down gracefully, SIGHUP
// reloads the policy file (a bad file is refused and the running policy kept).
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "service/api/admin_service.h"
#include "service/api/admission.h"
#include "service/api/arbiter_service.h"
#include "service/api/clock.h"
#include "service/api/decider.h"
#include "service/api/decision_metrics.h"
#include "service/api/diagnostics_service.h"
#include "service/api/policy_holder.h"
#include "service/api/policy_rollout.h"
#include "service/api/preference_updater.h"
#include "service/api/preferences_service.h"
#include "service/api/server.h"
#include "service/metrics/catalog.h"
#include "service/metrics/http_server.h"
#include "service/metrics/log.h"
#include "service/policy/loader.h"
#include "service/policy/time_zones.h"
#include "service/settings/settings.h"
#include "service/store/redis_store.h"

ABSL_FLAG(bool, check_policy, false,
          "Validate the settings, the policy file and the shadow policy file, print the result "
          "and exit");

namespace sendgate {
namespace {

using metrics::Log;
using metrics::Severity;

// Raises the soft limit on open files to the hard one: each gRPC connection and each Redis
// connection is a descriptor, and gRPC 1.51 stops accepting for good once accept() fails.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    Log(Severity::kInfo, "main", absl::StrCat("open-file limit raised to ", limit.rlim_cur));
  }
}

// protobuf's own log lines, through ours and throttled. A string field that is not UTF-8 is
// not logged: wire.h answers it as INVALID_ARGUMENT, and an attacker could flood the log.
void LogProtobuf(google::protobuf::LogLevel level, const char*, int,
                 const std::string& message) {
  if (message.find("invalid UTF-8") != std::string::npos) return;
  static metrics::EveryFewSeconds throttle(5);
  if (!throttle.Due()) return;
  Log(level >= google::protobuf::LOGLEVEL_ERROR ? Severity::kError : Severity::kWarning,
      "protobuf", message);
}

// gRPC's own log lines (gpr_log), as ours. A refused TLS handshake (a caller without a valid
// certificate) is two error lines: one per 5 s, so that a scan cannot flood the log.
void LogGrpc(gpr_log_func_args* args) {
  static metrics::EveryFewSeconds handshakes(5);
  const absl::string_view message = args->message;
  if ((absl::StrContains(message, "Handshake failed") ||
       absl::StrContains(message, "Certificate verify failed")) &&
      !handshakes.Due()) {
    return;
  }
  const Severity severity = args->severity == GPR_LOG_SEVERITY_ERROR ? Severity::kError
                            : args->severity == GPR_LOG_SEVERITY_INFO ? Severity::kInfo
                                                                       : Severity::kWarning;
  Log(severity, "grpc", absl::StrCat(args->message, " (", args->file, ":", args->line, ")"));
}

// The Redis Cluster seed nodes when --redis names cluster nodes (asked at start), none for a
// standalone Redis. A Redis that cannot be asked counts as standalone unless --redis lists
// several addresses (sendgate starts anyway; the fail modes answer until it is up).
std::vector<store::NodeAddress> ClusterSeeds(const settings::Settings& config,
                                             const store::ConnectionOptions& redis) {
  const absl::StatusOr<bool> cluster = store::IsCluster(redis);
  if (!cluster.ok()) {
    Log(Severity::kWarning, "main",
        absl::StrCat(cluster.status().message(),
                     "; starting anyway (fail modes answer until it is up)"));
  }
  if (cluster.ok() ? !*cluster : config.redis_seeds.size() < 2) return {};
  std::vector<store::NodeAddress> seeds;
  for (const settings::HostPort& seed : config.redis_seeds) {
    seeds.push_back({.host = seed.host, .port = seed.port});
  }
  return seeds;
}

// SIGTERM: readiness turns 503 and new calls are refused with UNAVAILABLE at once; calls in
// progress get up to `grace` to finish; then the server stops.
void Drain(api::GrpcServer& grpc, api::Admission& admission, absl::Duration grace) {
  const absl::Time until = absl::Now() + grace;
  admission.StartDraining();
  grpc.StartDraining();
  Log(Severity::kInfo, "main",
      absl::StrCat("draining: ", admission.in_flight(), " calls in progress"));
  while (admission.in_flight() > 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  grpc.Shutdown(std::max(until - absl::Now(), absl::Milliseconds(100)));
}

// The policy file's text and the policy it holds, and the same of the authorization policy
// (none without --authz_policy_file); the error is the one to print.
struct LoadedPolicy {
  std::string text;
  std::shared_ptr<const core::Policy> policy;
  std::string authz_text;
  std::shared_ptr<const policy::AuthzPolicy> authz;
};
absl::StatusOr<LoadedPolicy> LoadPolicy(const settings::Settings& config) {
  absl::StatusOr<std::string> text = policy::ReadPolicyFile(config.policy);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy =
      policy::ParsePolicy(*text, config.policy);
  if (!policy.ok()) return policy.status();
  LoadedPolicy loaded{std::move(*text), std::move(*policy)};
  if (config.authz_policy_file.empty()) return loaded;
  absl::StatusOr<std::string> authz_text = policy::ReadPolicyFile(config.authz_policy_file);
  if (!authz_text.ok()) return authz_text.status();
  absl::StatusOr<std::shared_ptr<const policy::AuthzPolicy>> authz =
      policy::ParseAuthzPolicy(*authz_text, config.authz_policy_file);
  if (!authz.ok()) return authz.status();
  loaded.authz_text = std::move(*authz_text);
  loaded.authz = std::move(*authz);
  return loaded;
}

// Who may call is decided by the authorization policy; without one, say what that means.
void WarnIfUnauthorized(const LoadedPolicy& loaded) {
  if (loaded.authz != nullptr) return;
  Log(Severity::kWarning, "main",
      loaded.policy->restricts_callers
          ? "the policy has callers but there is no --authz_policy_file to name them: callers "
            "are not restricted"
          : "no --authz_policy_file: every caller may call every RPC");
}

// Plaintext gRPC is for loopback: elsewhere anyone who reaches the port can call it.
void WarnIfOpen(const settings::Settings& config) {
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  if (config.tls.enabled() || host == "127.0.0.1" || host == "localhost" || host == "[::1]") {
    return;
  }
  Log(Severity::kWarning, "main",
      absl::StrCat("gRPC on ", config.listen,
                   " without TLS: any process that reaches it may call every RPC; give "
                   "--tls_cert_file and --tls_key_file (and --require_tls in production)"));
}

// --check_policy: the policy and the authorization policy were loaded; the shadow candidate,
// if any, is loaded too.
int CheckPolicies(const settings::Settings& config, const LoadedPolicy& loaded) {
  std::cout << config.policy << ": ok, version " << loaded.policy->version << ", "
            << loaded.policy->caps.size() << " caps\n";
  if (loaded.authz != nullptr) {
    std::cout << config.authz_policy_file << ": ok, authorization policy '"
              << loaded.authz->name() << "', " << loaded.authz->allow_rules().size()
              << " allow rules\n";
  }
  if (config.shadow_policy.empty()) return 0;
  absl::StatusOr<std::shared_ptr<const core::Policy>> shadow =
      policy::LoadCandidatePolicyFile(config.shadow_policy);
  if (!shadow.ok()) {
    std::cerr << shadow.status().message() << "\n";
    return 1;
  }
  std::cout << config.shadow_policy << ": "
            << (*shadow == nullptr ? "missing or empty, no shadow mode"
                                   : absl::StrCat("ok, version ", (*shadow)->version, ", ",
                                                  (*shadow)->caps.size(), " caps"))
            << "\n";
  return 0;
}

int Serve(const settings::Settings& config, LoadedPolicy loaded,
          std::shared_ptr<grpc::ServerCredentials> credentials, sigset_t signals) {
  const std::shared_ptr<const core::Policy> policy = loaded.policy;
  absl::StatusOr<std::string> password = settings::RedisPassword(config);
  if (!password.ok()) {
    std::cerr << password.status().message() << "\n";
    return 2;
  }
  const store::ConnectionOptions redis{.host = config.redis.host,
                                       .port = config.redis.port,
                                       .user = config.redis_user,
                                       .password = std::move(*password),
                                       .breaker = {.timeouts_to_open = config.redis_breaker_timeouts,
                                                   .open_for = config.redis_breaker_open}};
  metrics::Catalog catalog;
  store::RedisStore store(store::RedisStoreOptions{
      .connection = redis,
      .connections = config.redis_connections,
      .cluster_seeds = ClusterSeeds(config, redis),
      .wait_replicas = config.redis_wait_replicas,
      .events = {.on_state =
                     [&catalog](bool up) {
                       catalog.store_connection_changes.With({up ? "up" : "down"}).Increment();
                     },
                 .on_library_reload =
                     [&catalog] { catalog.store_library_reloads.With({}).Increment(); },
                 .on_redirect =
                     [&catalog](absl::string_view kind) {
                       catalog.store_redirections.With({std::string(kind)}).Increment();
                     },
                 .on_feed_entry_lost =
                     [&catalog] { catalog.feed_entries_lost.With({}).Increment(); },
                 .on_circuit =
                     [&catalog](bool open) {
                       catalog.store_circuit_changes.With({open ? "open" : "closed"}).Increment();
                     },
                 .on_reply =
                     [&catalog](absl::Duration took) {
                       catalog.store_call_seconds.Observe(absl::ToDoubleSeconds(took));
                     }}});
  catalog.store_up.ReadFrom([&store] { return store.healthy() ? 1.0 : 0.0; });

  api::PolicyHolder policies(policy);
  api::PolicyHolder shadow(nullptr);
  api::AuthzHolder authz(loaded.authz);
  WarnIfUnauthorized(loaded);
  api::PolicyRollout rollout(
      config.policy, std::move(loaded.text), policies, catalog, config.policy_watch_interval,
      api::ShadowSource{config.shadow_policy, &shadow},
      api::AuthzSource{config.authz_policy_file, std::move(loaded.authz_text), &authz});
  api::RealClock clock;
  api::Admission admission(loaded.authz != nullptr ? &authz : nullptr);
  catalog.calls_in_progress.ReadFrom(
      [&admission] { return static_cast<double>(admission.in_flight()); });
  api::DecisionMetrics decision_metrics(catalog);
  api::ContactHasher hasher;
  if (!config.suppression_key_file.empty()) {
    absl::StatusOr<api::ContactHasher> keyed =
        api::ContactHasher::FromKeyFile(config.suppression_key_file);
    if (!keyed.ok()) {
      std::cerr << keyed.status().message() << "\n";
      return 2;
    }
    hasher = std::move(*keyed);
    // One contact, one tag in every instance's log; not computable without the key.
    metrics::SetLogContactKey(hasher.Hash("sendgate log contact tags"));
  } else {
    Log(Severity::kWarning, "main",
        "no --suppression_key_file: Forget is refused (no suppression list for erased contacts)");
  }
  if (absl::Status same = store::CheckSuppressionKey(redis, hasher.KeyFingerprint());
      absl::IsFailedPrecondition(same)) {
    std::cerr << same.message() << "\n";
    return 1;
  } else if (!same.ok()) {
    Log(Severity::kWarning, "main", absl::StrCat(same.message(), " (checked again at next start)"));
  }
  api::ProfileCache profiles;
  api::Decider decider(store, clock, api::DeciderOptions{.store_timeout = config.redis_timeout},
                       hasher, profiles);
  api::ArbiterService arbiter(
      api::ArbiterParts{decider, store, policies, clock, decision_metrics, admission, shadow,
                        config.shadow_percent});

  api::PreferenceUpdater updater(store, hasher, profiles, clock);
  api::PreferencesService preferences(api::PreferencesParts{
      updater, store, hasher, decider, policies, clock, decision_metrics, admission});

  api::AdminService admin(api::AdminParts{policies, shadow, rollout, decision_metrics, admission});
  api::DiagnosticsService diagnostics(admission);
  absl::StatusOr<std::unique_ptr<api::GrpcServer>> grpc =
      api::GrpcServer::Start(config.listen, {&arbiter, &preferences, &admin, &diagnostics},
                             std::move(credentials), config.tls.enabled());
  if (!grpc.ok()) {
    std::cerr << grpc.status().message() << "\n";
    return 1;
  }
  std::atomic<bool> accepting{true};
  absl::StatusOr<std::unique_ptr<metrics::HttpServer>> http = metrics::HttpServer::Start(
      config.metrics_listen, [&catalog] { return catalog.Exposition(); }, [&] {
        const bool draining = admission.draining();
        const bool serving = accepting.load();
        return metrics::Readiness{
            .ready = !draining && serving,
            .detail = absl::StrCat(
                draining ? "draining (shutting down)"
                         : (serving ? "gRPC accepting connections"
                                    : "gRPC NOT accepting new connections"),
                ", policy ", policies.Current()->version, ", redis ",
                store.healthy() ? "connected" : "NOT connected (fail modes apply)")};
      });
  if (!http.ok()) {
    std::cerr << http.status().message() << "\n";
    return 1;
  }
  WarnIfOpen(config);
  Log(Severity::kInfo, "main",
      absl::StrCat("serving gRPC on port ", (*grpc)->port(),
                   config.tls.enabled()
                       ? (config.tls.client_ca_file.empty() ? " (TLS)" : " (mutual TLS)")
                       : " (plaintext)", ", metrics on port ", (*http)->port(),
                   ", policy ", policy->version, " from ", config.policy, ", redis ",
                   store.cluster() ? "cluster via " : "", config.redis.host, ":",
                   config.redis.port));

  // Every 2 s without a signal, the gRPC port is probed; two failed probes in a row (one could
  // be a moment of saturation) make the pod not ready, one success ready again.
  const timespec probe_every = absl::ToTimespec(absl::Seconds(2));
  int failed_probes = 0;
  for (;;) {
    const int signal = sigtimedwait(&signals, nullptr, &probe_every);
    if (signal < 0) {
      failed_probes = (*grpc)->AcceptsConnections(absl::Seconds(1)) ? 0 : failed_probes + 1;
      const bool now_accepting = failed_probes < 2;
      if (accepting.exchange(now_accepting) != now_accepting) {
        Log(now_accepting ? Severity::kInfo : Severity::kError, "main",
            now_accepting ? "the gRPC port accepts connections again"
                          : "the gRPC port no longer accepts connections: not ready");
      }
      continue;
    }
    if (signal == SIGHUP) {
      rollout.Reload("SIGHUP", [](absl::StatusOr<api::ReloadResult>) {});  // it logs
      continue;
    }
    Log(Severity::kInfo, "main", absl::StrCat("signal ", signal, ": shutting down"));
    Drain(**grpc, admission, config.shutdown_grace);
    http->reset();
    Log(Severity::kInfo, "main", "stopped");
    return 0;
  }
}

}  // namespace
}  // namespace sendgate

int main(int argc, char** argv) {
  // bookworm's Abseil checks every Mutex for lock cycles (a debugging aid, costly on gRPC's hot
  // path: measured in docs/BENCHMARKS.md); sendgate does not need it in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  google::protobuf::SetLogHandler(&sendgate::LogProtobuf);
  absl::SetProgramUsageMessage(
      "sendgate --policy=FILE --redis=HOST:PORT --listen=ADDR:PORT --metrics-listen=ADDR:PORT");
  std::vector<std::string> storage;
  std::set<std::string> given;
  std::vector<char*> arguments = sendgate::settings::NormalizeFlags(argc, argv, storage, given);
  absl::ParseCommandLine(static_cast<int>(arguments.size()), arguments.data());

  gpr_set_log_function(&sendgate::LogGrpc);
  absl::StatusOr<sendgate::settings::Settings> config = sendgate::settings::LoadSettings(given);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  sendgate::metrics::SetLogLevel(config->log_level);
  if (absl::StatusOr<const sendgate::policy::TimeZones*> zones =
          sendgate::policy::SystemTimeZones();
      !zones.ok()) {
    std::cerr << zones.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<sendgate::LoadedPolicy> loaded = sendgate::LoadPolicy(*config);
  if (!loaded.ok()) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_check_policy)) return sendgate::CheckPolicies(*config, *loaded);
  // Signals are taken by sigwait() in Serve(); block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sendgate::RaiseOpenFileLimit();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      sendgate::api::ServerCredentials(config->tls);
  if (!credentials.ok()) {
    std::cerr << credentials.status().message() << "\n";
    return 1;
  }
  return sendgate::Serve(*config, std::move(*loaded), std::move(*credentials), signals);
}
