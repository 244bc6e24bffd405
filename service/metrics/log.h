// Process logs: one JSON object per line on stderr, through spdlog (Debian's libspdlog):
//   {"time":"2026-11-23T10:00:00.123Z","level":"warning","component":"store","message":"..."}
// Not for the hot path: callers log state changes (connection lost, policy loaded), and
// EveryFewSeconds keeps a repeated failure to one line per interval. No personal data: a
// contact id is written only as ContactForLog(id), and a Redis key naming a contact
// (sg:{<contact>}:...) in a message is rewritten the same way before it is written.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sendgate::metrics {

enum class Severity : char { kInfo = 'I', kWarning = 'W', kError = 'E' };

void Log(Severity severity, absl::string_view component, absl::string_view message);

// Lines below `least` are not written (default: every line).
void SetLogLevel(Severity least);

// The key of the hash that stands for contact ids in logs (the suppression key, so that one
// contact has the same tag on every instance); a random one per process until it is set.
void SetLogContactKey(absl::string_view key);

// "#" and 16 hex digits of a keyed BLAKE2b of `contact_id`: the same contact, the same tag.
std::string ContactForLog(absl::string_view contact_id);

// `message` as a JSON string, quotes included.
std::string JsonString(absl::string_view message);

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
