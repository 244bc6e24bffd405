// Durations as policy authors write them: "90s", "30m", "24h", "7d", "2w".
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/time/time.h"

namespace sendgate::policy {

// A positive whole number followed by one unit (s, m, h, d, w); nullopt otherwise.
std::optional<absl::Duration> ParseDuration(absl::string_view text);

}  // namespace sendgate::policy
