// A contact's pressure as GetPressure shows it: usage of every cap, and when each channel next
// has room for a marketing message. Counted with the same rules as a decision (history.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "service/core/policy.h"
#include "service/core/history.h"

namespace sendgate::core {

struct CapUsage {
  int cap = 0;            // index into Policy::caps
  std::string partition;  // "campaign=#1a2b3c4d" for caps counted per campaign ..., else ""
  int64_t used = 0;
  int64_t limit = 0;
  absl::Time start;
  absl::Time end;
};

struct ChannelRoom {
  int channel = 0;                         // index into Policy::channels
  std::optional<absl::Time> next_allowed;  // empty: never (a limit below 1)
};

struct Pressure {
  std::vector<CapUsage> caps;
  std::vector<ChannelRoom> channels;
};

// `segments` and `zone` describe the contact, `at` is when to look (usually now).
Pressure PressureAt(const Policy& policy, const History& history,
                    const std::vector<std::string>& segments, absl::TimeZone zone, absl::Time at);

}  // namespace sendgate::core
