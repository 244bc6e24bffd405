#include "service/policy/duration.h"

#include <cstdint>

#include "absl/strings/numbers.h"

namespace sendgate::policy {

std::optional<absl::Duration> ParseDuration(absl::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t count = 0;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &count) || count < 0 ||
      count > 100000 || text[0] == '+' || text[0] == '-') {
    return std::nullopt;
  }
  switch (text.back()) {
    case 's': return absl::Seconds(count);
    case 'm': return absl::Minutes(count);
    case 'h': return absl::Hours(count);
    case 'd': return absl::Hours(24 * count);
    case 'w': return absl::Hours(24 * 7 * count);
  }
  return std::nullopt;
}

}  // namespace sendgate::policy
