#include "service/policy/duration.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

namespace sendgate::policy {

std::optional<core::Window> ParseWindow(absl::string_view text) {
  if (text == "calendar day") return core::Window{.kind = core::WindowKind::kDay};
  if (text == "calendar week") return core::Window{.kind = core::WindowKind::kWeek};
  if (text == "calendar month") return core::Window{.kind = core::WindowKind::kMonth};
  std::optional<absl::Duration> length = ParseDuration(text);
  if (!length || *length < absl::Minutes(1) || *length > absl::Hours(24 * 400)) {
    return std::nullopt;
  }
  return core::Window{.kind = core::WindowKind::kRolling, .length = *length};
}

std::string FormatWindow(const core::Window& window) {
  switch (window.kind) {
    case core::WindowKind::kDay: return "calendar day";
    case core::WindowKind::kWeek: return "calendar week";
    case core::WindowKind::kMonth: return "calendar month";
    case core::WindowKind::kRolling: break;
  }
  const int64_t seconds = absl::ToInt64Seconds(window.length);
  for (auto [unit, suffix] : {std::pair<int64_t, char>{604800, 'w'}, {86400, 'd'}, {3600, 'h'},
                              {60, 'm'}}) {
    if (seconds % unit == 0) return absl::StrCat(seconds / unit, std::string(1, suffix));
  }
  return absl::StrCat(seconds, "s");
}

}  // namespace sendgate::policy
