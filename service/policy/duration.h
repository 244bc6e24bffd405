// Durations and windows as policy authors write them: "90s", "30m", "24h", "7d", "2w"; a
// window is a rolling duration or "calendar day", "calendar week", "calendar month". The same
// syntax serves a contact's own frequency in the preference centre.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/core/window.h"

namespace sendgate::policy {

// A positive whole number followed by one unit (s, m, h, d, w); nullopt otherwise.
std::optional<absl::Duration> ParseDuration(absl::string_view text);

// A window: calendar day|week|month, or a rolling duration from 1 minute to 400 days.
std::optional<core::Window> ParseWindow(absl::string_view text);
// What ParseWindow() accepts, for error messages.
inline constexpr absl::string_view kWindowSyntax =
    "a rolling duration from 1m to 400d (such as 24h or 7d) or 'calendar day', 'calendar week' "
    "or 'calendar month'";

// `window` in that syntax, with the largest whole unit ("7d", "36h", "calendar week").
std::string FormatWindow(const core::Window& window);

}  // namespace sendgate::policy
