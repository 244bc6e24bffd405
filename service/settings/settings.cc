#include "service/settings/settings.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, config, "",
          "YAML file with any of the settings below (flags given on the command line win)");
ABSL_FLAG(std::string, policy, "policies/default.yaml", "Pressure policy file (YAML)");
ABSL_FLAG(std::string, redis, "127.0.0.1:6379",
          "Redis HOST:PORT; for a Redis Cluster, one or more of its nodes, HOST:PORT,HOST:PORT");
ABSL_FLAG(std::string, redis_user, "",
          "Redis ACL user sendgate authenticates as (empty: the default user)");
ABSL_FLAG(std::string, redis_password_file, "",
          "File whose first line is the Redis user's password (or set SENDGATE_REDIS_PASSWORD); "
          "empty and unset: no AUTH");
ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC ADDR:PORT");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Monitoring HTTP ADDR:PORT (/metrics, /healthz, /readyz)");
ABSL_FLAG(int, redis_connections, 2, "Redis connections, each on its own event-loop thread");
ABSL_FLAG(int, redis_wait_replicas, -1,
          "Replicas that must have a preference update (Update, Import, Forget) before it is "
          "acknowledged (Redis WAIT, within the call's deadline); -1: 1 on a Redis Cluster, 0 on "
          "a standalone Redis");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Milliseconds(250),
          "Longest wait for Redis before the policy's fail mode decides");
ABSL_FLAG(int, redis_breaker_timeouts, 5,
          "Circuit breaker: a Redis node that lets this many calls in a row pass their deadline "
          "(--redis_timeout) is refused at once (the fail mode answers) until a trial call is "
          "answered in time; 0: never");
ABSL_FLAG(absl::Duration, redis_breaker_open, absl::Milliseconds(500),
          "Circuit breaker: while open, one trial call goes to the node this often");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long calls in progress may take to finish");
ABSL_FLAG(std::string, suppression_key_file, "",
          "Secret key (32 to 64 bytes) of the keyed hash that keeps forgotten contacts "
          "suppressed; without it Forget is refused. Never change it once contacts are forgotten");
ABSL_FLAG(absl::Duration, policy_watch_interval, absl::Seconds(5),
          "How often the policy file is looked at for a change (a ConfigMap update); 0 never");
ABSL_FLAG(std::string, shadow_policy, "",
          "Shadow mode: a candidate policy file evaluated beside --policy on live traffic and "
          "never enforced (missing or empty: none); read again with the policy");
ABSL_FLAG(int, shadow_percent, 100,
          "Shadow mode: the share of contacts (by a hash of their id, so always the same ones) "
          "whose decisions the candidate policy also makes, 1 to 100");
ABSL_FLAG(std::string, log_level, "info", "Least severity logged: info, warning or error");
ABSL_FLAG(std::string, authz_policy_file, "",
          "Who may call which RPC: a gRPC authorization policy (JSON), read again with the "
          "policy; empty: every caller that reaches the port may call every RPC");
ABSL_FLAG(std::string, tls_cert_file, "",
          "TLS on the gRPC port: the server's certificate chain (PEM), with --tls_key_file; read "
          "again every --tls_refresh_interval, so a rotated certificate is served without a "
          "restart. Empty: plaintext");
ABSL_FLAG(std::string, tls_key_file, "", "TLS: the private key of --tls_cert_file (PEM)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "Mutual TLS: the CA certificates (PEM) that sign the callers' certificates; a caller "
          "without a valid one is refused at the handshake");
ABSL_FLAG(std::string, tls_crl_dir, "",
          "Mutual TLS: a directory of certificate revocation lists (PEM, hashed names as "
          "`openssl rehash` writes them); a revoked caller certificate is refused");
ABSL_FLAG(bool, tls_client_cert_optional, false,
          "Mutual TLS: let callers without a certificate in (a certificate presented is still "
          "verified)");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Minutes(1),
          "How often the TLS files are read again (whole seconds, at least 1s)");
ABSL_FLAG(bool, require_tls, false,
          "Refuse to start unless the gRPC port is served with TLS (--tls_cert_file)");

namespace sendgate::settings {
namespace {

// The settings a config file may hold: every flag above but --config.
constexpr absl::string_view kFileSettings[] = {"policy",
                                               "redis",
                                               "redis_user",
                                               "redis_password_file",
                                               "listen",
                                               "metrics_listen",
                                               "redis_connections",
                                               "redis_wait_replicas",
                                               "redis_timeout",
                                               "redis_breaker_timeouts",
                                               "redis_breaker_open",
                                               "shutdown_grace",
                                               "suppression_key_file",
                                               "policy_watch_interval",
                                               "shadow_policy",
                                               "shadow_percent",
                                               "log_level",
                                               "authz_policy_file",
                                               "tls_cert_file",
                                               "tls_key_file",
                                               "tls_client_ca_file",
                                               "tls_crl_dir",
                                               "tls_client_cert_optional",
                                               "tls_refresh_interval",
                                               "require_tls"};

// Where each setting a config file sets stands in it ("sendgate.yaml:3:1: "), so that an error
// found when the settings are checked together names its line.
using Places = std::map<std::string, std::string>;

// "<place>setting problem": the error of a setting out of its bounds.
absl::Status Invalid(const Places& places, const std::string& setting, absl::string_view problem) {
  const auto place = places.find(setting);
  return absl::InvalidArgumentError(
      absl::StrCat(place != places.end() ? place->second : "", setting, " ", problem));
}

// Sets the flags from a YAML mapping of settings, each parsed as its flag parses it on the
// command line; a flag given on the command line keeps its value.
absl::Status ApplyConfigFile(const std::string& path, const std::set<std::string>& given,
                             Places& places) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap() && !root.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", root.Mark().line + 1, ":", root.Mark().column + 1,
          ": a config file is a mapping of settings (policy: FILE, redis: HOST:PORT ...)"));
    }
    for (const auto& entry : root) {
      const std::string key = absl::StrReplaceAll(entry.first.as<std::string>(), {{"-", "_"}});
      const std::string place = absl::StrCat(path, ":", entry.first.Mark().line + 1, ":",
                                             entry.first.Mark().column + 1, ": ");
      if (std::find(std::begin(kFileSettings), std::end(kFileSettings), key) ==
          std::end(kFileSettings)) {
        return absl::InvalidArgumentError(absl::StrCat(place, "unknown setting '", key, "'"));
      }
      if (given.count(key) > 0) continue;
      places[key] = place;
      if (!entry.second.IsScalar() && !entry.second.IsNull()) {
        return absl::InvalidArgumentError(absl::StrCat(place, key, ": not a single value"));
      }
      std::string error;  // an empty value (`shadow_policy:`) is the empty string
      if (!absl::FindCommandLineFlag(key)->ParseFrom(
              entry.second.IsNull() ? "" : entry.second.Scalar(), &error)) {
        return absl::InvalidArgumentError(absl::StrCat(place, error));
      }
    }
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open the config file"));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", error.mark.line + 1, ":", error.mark.column + 1, ": ", error.msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<HostPort> ParseHostPort(const Places& places, const std::string& address) {
  const size_t colon = address.rfind(':');
  HostPort parsed;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &parsed.port) || parsed.port <= 0 ||
      parsed.port > 65535) {
    return Invalid(places, "redis",
                   absl::StrCat("must be HOST:PORT, such as 127.0.0.1:6379; not '", address, "'"));
  }
  parsed.host = address.substr(0, colon);
  if (parsed.host.size() > 2 && parsed.host.front() == '[') {
    parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
  }
  return parsed;
}

absl::StatusOr<metrics::Severity> ParseLogLevel(const Places& places, const std::string& name) {
  const std::pair<const char*, metrics::Severity> levels[] = {
      {"info", metrics::Severity::kInfo},
      {"warning", metrics::Severity::kWarning},
      {"error", metrics::Severity::kError}};
  for (const auto& [level_name, severity] : levels) {
    if (name == level_name) return severity;
  }
  return Invalid(places, "log_level",
                 absl::StrCat("must be info, warning or error, not '", name, "'"));
}

// The TLS flags, checked together: a key with its certificate, client options only with TLS.
absl::StatusOr<Tls> ReadTls(const Places& places) {
  Tls tls{absl::GetFlag(FLAGS_tls_cert_file),
          absl::GetFlag(FLAGS_tls_key_file),
          absl::GetFlag(FLAGS_tls_client_ca_file),
          absl::GetFlag(FLAGS_tls_crl_dir),
          absl::GetFlag(FLAGS_tls_client_cert_optional),
          absl::GetFlag(FLAGS_tls_refresh_interval)};
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return Invalid(places, tls.cert_file.empty() ? "tls_key_file" : "tls_cert_file",
                   "needs its pair: give both --tls_cert_file and --tls_key_file");
  }
  if (!tls.enabled() && !tls.client_ca_file.empty()) {
    return Invalid(places, "tls_client_ca_file", "needs TLS: give --tls_cert_file too");
  }
  if (tls.client_ca_file.empty() && (!tls.crl_dir.empty() || tls.client_cert_optional)) {
    return Invalid(places, tls.crl_dir.empty() ? "tls_client_cert_optional" : "tls_crl_dir",
                   "is for mutual TLS: give --tls_client_ca_file too");
  }
  if (tls.refresh < absl::Seconds(1) || tls.refresh != absl::Trunc(tls.refresh, absl::Seconds(1))) {
    return Invalid(places, "tls_refresh_interval", "must be whole seconds, at least 1s");
  }
  return tls;
}

// The flags' values, checked against their bounds.
absl::StatusOr<Settings> ReadFlags(const Places& places) {
  std::vector<HostPort> seeds;
  for (absl::string_view address : absl::StrSplit(absl::GetFlag(FLAGS_redis), ',')) {
    absl::StatusOr<HostPort> seed = ParseHostPort(places, std::string(address));
    if (!seed.ok()) return seed.status();
    seeds.push_back(*seed);
  }
  if (seeds.size() > 64) return Invalid(places, "redis", "lists more than 64 addresses");
  const HostPort* redis = &seeds.front();
  absl::StatusOr<metrics::Severity> log_level =
      ParseLogLevel(places, absl::GetFlag(FLAGS_log_level));
  if (!log_level.ok()) return log_level.status();
  Settings settings{absl::GetFlag(FLAGS_policy),
                    *redis,
                    absl::GetFlag(FLAGS_redis_user),
                    absl::GetFlag(FLAGS_redis_password_file),
                    absl::GetFlag(FLAGS_listen),
                    absl::GetFlag(FLAGS_metrics_listen),
                    absl::GetFlag(FLAGS_redis_connections),
                    absl::GetFlag(FLAGS_redis_timeout),
                    absl::GetFlag(FLAGS_shutdown_grace),
                    absl::GetFlag(FLAGS_suppression_key_file),
                    absl::GetFlag(FLAGS_policy_watch_interval),
                    *log_level,
                    absl::GetFlag(FLAGS_shadow_policy),
                    absl::GetFlag(FLAGS_shadow_percent),
                    absl::GetFlag(FLAGS_authz_policy_file)};
  settings.redis_seeds = std::move(seeds);
  settings.redis_wait_replicas = absl::GetFlag(FLAGS_redis_wait_replicas);
  if (settings.redis_wait_replicas < -1 || settings.redis_wait_replicas > 16) {
    return Invalid(places, "redis_wait_replicas", "must be from -1 (automatic) to 16");
  }
  if (settings.shadow_percent < 1 || settings.shadow_percent > 100) {
    return Invalid(places, "shadow_percent", "must be from 1 to 100");
  }
  if (settings.policy_watch_interval < absl::ZeroDuration()) {
    return Invalid(places, "policy_watch_interval", "must be 0 (never) or positive");
  }
  if (settings.redis_connections < 1 || settings.redis_connections > 64) {
    return Invalid(places, "redis_connections", "must be from 1 to 64");
  }
  if (settings.redis_timeout <= absl::ZeroDuration()) {
    return Invalid(places, "redis_timeout", "must be positive");
  }
  settings.redis_breaker_timeouts = absl::GetFlag(FLAGS_redis_breaker_timeouts);
  if (settings.redis_breaker_timeouts < 0 || settings.redis_breaker_timeouts > 100000) {
    return Invalid(places, "redis_breaker_timeouts", "must be from 0 (never) to 100000");
  }
  settings.redis_breaker_open = absl::GetFlag(FLAGS_redis_breaker_open);
  if (settings.redis_breaker_open < absl::Milliseconds(10) ||
      settings.redis_breaker_open > absl::Minutes(10)) {
    return Invalid(places, "redis_breaker_open", "must be from 10ms to 10m");
  }
  settings.require_tls = absl::GetFlag(FLAGS_require_tls);
  absl::StatusOr<Tls> tls = ReadTls(places);
  if (!tls.ok()) return tls.status();
  settings.tls = std::move(*tls);
  if (settings.require_tls && !settings.tls.enabled()) {
    return Invalid(places, "require_tls", "is set: give --tls_cert_file and --tls_key_file");
  }
  return settings;
}

}  // namespace

absl::StatusOr<std::string> RedisPassword(const Settings& settings) {
  const char* set = std::getenv(kRedisPasswordVariable);
  const std::string variable = set != nullptr ? set : "";
  if (settings.redis_password_file.empty()) {
    if (variable.empty() && !settings.redis_user.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("redis_user: '", settings.redis_user,
                                                     "' needs --redis_password_file or ",
                                                     kRedisPasswordVariable));
    }
    return variable;
  }
  if (!variable.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis_password_file and ", kRedisPasswordVariable, " are both given: keep one"));
  }
  std::ifstream file(settings.redis_password_file);
  std::string password;
  if (!file || !std::getline(file, password)) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis_password_file: cannot read ", settings.redis_password_file));
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis_password_file: ", settings.redis_password_file, " is empty"));
  }
  return password;
}

std::vector<char*> NormalizeFlags(int argc, char** argv, std::vector<std::string>& storage,
                                  std::set<std::string>& given) {
  storage.assign(argv, argv + argc);
  for (std::string& argument : storage) {
    if (argument.rfind("--", 0) != 0) continue;
    const size_t name_end = std::min(argument.find('='), argument.size());
    for (size_t i = 2; i < name_end; ++i) {
      if (argument[i] == '-') argument[i] = '_';
    }
    given.insert(argument.substr(2, name_end - 2));
  }
  std::vector<char*> pointers;
  for (std::string& argument : storage) pointers.push_back(argument.data());
  return pointers;
}

absl::StatusOr<Settings> LoadSettings(const std::set<std::string>& given) {
  Places places;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    if (absl::Status applied = ApplyConfigFile(path, given, places); !applied.ok()) return applied;
  }
  return ReadFlags(places);
}

absl::StatusOr<Settings> LoadConfigFile(const std::string& path) {
  std::vector<std::pair<absl::CommandLineFlag*, std::string>> before;
  for (absl::string_view name : kFileSettings) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    before.emplace_back(flag, flag->CurrentValue());
  }
  Places places;
  absl::Status applied = ApplyConfigFile(path, {}, places);
  absl::StatusOr<Settings> settings = applied.ok() ? ReadFlags(places) : applied;
  std::string error;
  for (auto& [flag, value] : before) flag->ParseFrom(value, &error);  // as they were
  return settings;
}

}  // namespace sendgate::settings
