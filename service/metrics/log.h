// Process log lines on stderr: "2026-11-23T10:00:00.123Z W store: message". Not for the hot
// path: callers log state changes (connection lost, policy loaded), and EveryFewSeconds keeps a
// repeated failure to one line per interval.
#pragma once

#include <atomic>
#include <cstdint>
#include "absl/strings/string_view.h"

namespace sendgate::metrics {

enum class Severity : char { kInfo = 'I', kWarning = 'W', kError = 'E' };

void Log(Severity severity, absl::string_view component, absl::string_view message);

// True at most once per `seconds` for this object: the throttle of a repeated log line.
class EveryFewSeconds {
 public:
  explicit EveryFewSeconds(int seconds) : seconds_(seconds) {}
  bool Due();

 private:
  int seconds_;
  std::atomic<int64_t> next_{0};
};

}  // namespace sendgate::metrics
