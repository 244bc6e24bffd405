#include "service/metrics/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sendgate::metrics {

void Log(Severity severity, absl::string_view component, absl::string_view message) {
  const std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   absl::string_view(reinterpret_cast<const char*>(&severity), 1), " ", component,
                   ": ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

bool EveryFewSeconds::Due() {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  int64_t next = next_.load(std::memory_order_relaxed);
  return now >= next && next_.compare_exchange_strong(next, now + seconds_);
}

}  // namespace sendgate::metrics
