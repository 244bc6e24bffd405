// Cap windows: exact rolling windows ("the last 7 days") and calendar windows ("this week") in
// the contact's time zone. Both become absolute [start, end) bounds, so the store counts them
// the same way.
#pragma once

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace sendgate::core {

enum class WindowKind { kRolling, kDay, kWeek, kMonth };

struct Window {
  WindowKind kind = WindowKind::kRolling;
  absl::Duration length;  // kRolling only

  // "rolling 7 days", "calendar week" ...
  std::string Describe() const;
  // How far before a send a record can still count in this window: what history must keep.
  absl::Duration Reach() const;
};

// Where a cap counts sends for a message sent at `at`: records with start <= time < end.
// A rolling window is (at - length, at + length): every window of that length that contains
// `at`, so a send scheduled in the future is counted too. Room frees up `slide` after a counted
// send (rolling), or at `end` when slide is zero (calendar).
struct WindowBounds {
  absl::Time start;
  absl::Time end;
  absl::Duration slide;
};

WindowBounds BoundsAt(const Window& window, absl::Time at, absl::TimeZone zone,
                      absl::Weekday week_starts);

// The fixed interval of `window` that holds `at`, [start, end): for a rolling window, the
// interval of its length counted from the Unix epoch (a window of 1s: each second); for a
// calendar window, the day, week or month in `zone`. Capacity counts in these.
WindowBounds IntervalAt(const Window& window, absl::Time at, absl::TimeZone zone,
                        absl::Weekday week_starts);

// The day, week and month that hold `at` in `zone`: the bounds of every calendar window at
// once, for one time-zone lookup instead of one per window (a decision plans several). Each
// thread keeps its last few calendars, so a plan usually costs one conversion to civil time.
struct Calendar {
  WindowBounds day;
  WindowBounds week;
  WindowBounds month;
};
Calendar CalendarAt(absl::Time at, absl::TimeZone zone, absl::Weekday week_starts);

// As BoundsAt, a calendar window's bounds taken from `calendar` (CalendarAt the same `at`).
WindowBounds BoundsIn(const Window& window, absl::Time at, const Calendar& calendar);

}  // namespace sendgate::core
