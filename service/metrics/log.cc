#include "service/metrics/log.h"

#include <sodium.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sendgate::metrics {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto made = std::make_shared<spdlog::logger>(
        "sendgate", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    // The message part (component and message) is JSON already: Log() writes it.
    made->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
        spdlog::pattern_time_type::utc));
    made->set_level(spdlog::level::info);
    made->flush_on(spdlog::level::info);
    return made;
  }();
  return logger;
}

spdlog::level::level_enum Level(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return spdlog::level::info;
    case Severity::kWarning: return spdlog::level::warn;
    case Severity::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

struct ContactKey {
  std::mutex mutex;
  unsigned char key[crypto_generichash_KEYBYTES];
  ContactKey() { randombytes_buf(key, sizeof(key)); }
};

ContactKey& TheContactKey() {
  static ContactKey key;
  return key;
}

// `message` with each contact id inside a Redis key (sg:{<id>}) replaced by its tag.
std::string WithoutContacts(absl::string_view message) {
  std::string out;
  size_t at = 0;
  for (size_t open; (open = message.find("sg:{", at)) != absl::string_view::npos;) {
    const size_t close = message.find('}', open + 4);
    if (close == absl::string_view::npos) break;
    absl::StrAppend(&out, message.substr(at, open + 4 - at),
                    ContactForLog(message.substr(open + 4, close - open - 4)), "}");
    at = close + 1;
  }
  absl::StrAppend(&out, message.substr(at));
  return out;
}

}  // namespace

void Log(Severity severity, absl::string_view component, absl::string_view message) {
  Logger()->log(Level(severity), R"("component":{},"message":{})", JsonString(component),
                JsonString(WithoutContacts(message)));
}

void SetLogLevel(Severity least) { Logger()->set_level(Level(least)); }

void SetLogContactKey(absl::string_view key) {
  ContactKey& contact_key = TheContactKey();
  std::lock_guard<std::mutex> lock(contact_key.mutex);
  crypto_generichash(contact_key.key, sizeof(contact_key.key),
                     reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr, 0);
}

std::string ContactForLog(absl::string_view contact_id) {
  unsigned char hash[8];
  ContactKey& contact_key = TheContactKey();
  {
    std::lock_guard<std::mutex> lock(contact_key.mutex);
    crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(contact_id.data()),
                       contact_id.size(), contact_key.key, sizeof(contact_key.key));
  }
  return absl::StrCat("#", absl::BytesToHexString(
                               absl::string_view(reinterpret_cast<const char*>(hash), 8)));
}

std::string JsonString(absl::string_view message) {
  std::string out = "\"";
  for (const char c : message) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

bool EveryFewSeconds::Due() {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  int64_t next = next_.load(std::memory_order_relaxed);
  return now >= next && next_.compare_exchange_strong(next, now + seconds_);
}

}  // namespace sendgate::metrics
