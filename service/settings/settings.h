// sendgate's settings: one table, the flags (settings.cc), set by the command line and by a
// --config YAML file whose keys are the flags' names. Read by main.cc when it starts, and by
// sendgatectl's `config check`, which validates a config file offline exactly as sendgate would.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/metrics/log.h"

namespace sendgate::settings {

struct HostPort {
  std::string host;
  int port = 0;
};

// TLS on the gRPC port (gRPC's own credentials; files re-read every `refresh`).
struct Tls {
  std::string cert_file;              // the server's certificate chain, PEM; empty: plaintext
  std::string key_file;               // its private key, PEM
  std::string client_ca_file;         // mutual TLS: the CAs of accepted client certificates
  std::string crl_dir;                // mutual TLS: revoked client certificates (hashed CRL files)
  bool client_cert_optional = false;  // mutual TLS: a caller may come without a certificate
  absl::Duration refresh;

  bool enabled() const { return !cert_file.empty(); }
};

struct Settings {
  std::string policy;
  HostPort redis;
  std::string redis_user;           // empty: Redis's `default` user
  std::string redis_password_file;  // the secret itself is read by RedisPassword()
  std::string listen;
  std::string metrics_listen;
  int redis_connections = 2;
  absl::Duration redis_timeout;
  absl::Duration shutdown_grace;
  std::string suppression_key_file;
  absl::Duration policy_watch_interval;
  metrics::Severity log_level = metrics::Severity::kInfo;
  std::string shadow_policy;
  int shadow_percent = 100;
  std::string authz_policy_file;  // empty: no authorization policy
  Tls tls;
  bool require_tls = false;
  // Every address in --redis ("host:port,host:port"): a Redis Cluster's seed nodes, any of
  // which may be asked for the topology. `redis` is the first.
  std::vector<HostPort> redis_seeds;
  // Replicas a preference update waits for (WAIT); -1: 1 on a Redis Cluster, 0 standalone.
  int redis_wait_replicas = -1;
  // A node's circuit breaker: opens after this many timeouts in a row (0: never), and then
  // lets one trial call through every `redis_breaker_open`.
  int redis_breaker_timeouts = 5;
  absl::Duration redis_breaker_open = absl::Milliseconds(500);
};

// The environment variable that may hold Redis's password instead of --redis_password_file.
inline constexpr char kRedisPasswordVariable[] = "SENDGATE_REDIS_PASSWORD";

// Redis's password: the first line of --redis_password_file, or $SENDGATE_REDIS_PASSWORD, or
// none (empty: no AUTH). Read only when sendgate starts (never by `config check`: CI holds no
// secret); never from the command line, where `ps` would show it.
absl::StatusOr<std::string> RedisPassword(const Settings& settings);

// The command line as absl parses it: flags are spelled with '_', and the '-' spelling is
// accepted too (--metrics-listen). `given` gets the names of the flags that appear.
std::vector<char*> NormalizeFlags(int argc, char** argv, std::vector<std::string>& storage,
                                  std::set<std::string>& given);

// The settings in force: the flags' defaults, then the --config file's keys, then the flags
// named in `given` (those on the command line), each checked against its bounds. Errors name
// the setting; a config file's, its file:line:column.
absl::StatusOr<Settings> LoadSettings(const std::set<std::string>& given);

// The settings a config file alone gives over the defaults, as LoadSettings checks them.
absl::StatusOr<Settings> LoadConfigFile(const std::string& path);

}  // namespace sendgate::settings
