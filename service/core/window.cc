#include "service/core/window.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace sendgate::core {
namespace {

std::string DescribeLength(absl::Duration length) {
  const int64_t seconds = absl::ToInt64Seconds(length);
  struct Unit {
    int64_t seconds;
    const char* one;
    const char* many;
  };
  for (Unit unit : {Unit{604800, "week", "weeks"}, Unit{86400, "day", "days"},
                    Unit{3600, "hour", "hours"}, Unit{60, "minute", "minutes"}}) {
    if (seconds % unit.seconds == 0) {
      const int64_t n = seconds / unit.seconds;
      return n == 1 ? absl::StrCat("1 ", unit.one) : absl::StrCat(n, " ", unit.many);
    }
  }
  return absl::StrCat(seconds, " seconds");
}

absl::CivilDay WeekStart(absl::CivilDay day, absl::Weekday week_starts) {
  const int offset = (static_cast<int>(absl::GetWeekday(day)) - static_cast<int>(week_starts) + 7) % 7;
  return day - offset;
}

}  // namespace

std::string Window::Describe() const {
  switch (kind) {
    case WindowKind::kRolling: return absl::StrCat("rolling ", DescribeLength(length));
    case WindowKind::kDay: return "calendar day";
    case WindowKind::kWeek: return "calendar week";
    case WindowKind::kMonth: return "calendar month";
  }
  return "?";
}

absl::Duration Window::Reach() const {
  // Calendar windows get a day of slack for time-zone offsets and DST.
  switch (kind) {
    case WindowKind::kRolling: return length;
    case WindowKind::kDay: return absl::Hours(24 * 2);
    case WindowKind::kWeek: return absl::Hours(24 * 8);
    case WindowKind::kMonth: return absl::Hours(24 * 32);
  }
  return length;
}

namespace {

// Every window around `at` of `length`: sends from `at - length` (exclusive) are counted, and
// room frees up `length` after each.
WindowBounds RollingBounds(absl::Duration length, absl::Time at) {
  return {at - length + absl::Milliseconds(1), at + length, length};
}

}  // namespace

WindowBounds BoundsAt(const Window& window, absl::Time at, absl::TimeZone zone,
                      absl::Weekday week_starts) {
  if (window.kind == WindowKind::kRolling) return RollingBounds(window.length, at);
  const absl::CivilDay day = absl::ToCivilDay(at, zone);
  switch (window.kind) {
    case WindowKind::kRolling: break;
    case WindowKind::kDay:
      return {absl::FromCivil(day, zone), absl::FromCivil(day + 1, zone), absl::ZeroDuration()};
    case WindowKind::kWeek: {
      const absl::CivilDay first = WeekStart(day, week_starts);
      return {absl::FromCivil(first, zone), absl::FromCivil(first + 7, zone),
              absl::ZeroDuration()};
    }
    case WindowKind::kMonth: {
      const absl::CivilMonth month(day);
      return {absl::FromCivil(month, zone), absl::FromCivil(month + 1, zone),
              absl::ZeroDuration()};
    }
  }
  return {at, at, absl::ZeroDuration()};
}

WindowBounds IntervalAt(const Window& window, absl::Time at, absl::TimeZone zone,
                        absl::Weekday week_starts) {
  if (window.kind != WindowKind::kRolling) return BoundsAt(window, at, zone, week_starts);
  const int64_t length = absl::ToInt64Milliseconds(window.length);
  const int64_t millis = absl::ToUnixMillis(at);
  const int64_t start = millis - ((millis % length) + length) % length;
  return {absl::FromUnixMillis(start), absl::FromUnixMillis(start + length), absl::ZeroDuration()};
}

namespace {

Calendar CalendarOf(absl::CivilDay day, absl::TimeZone zone, absl::Weekday week_starts) {
  const absl::CivilDay first = WeekStart(day, week_starts);
  const absl::CivilMonth month(day);
  return {.day = {absl::FromCivil(day, zone), absl::FromCivil(day + 1, zone), absl::ZeroDuration()},
          .week = {absl::FromCivil(first, zone), absl::FromCivil(first + 7, zone),
                   absl::ZeroDuration()},
          .month = {absl::FromCivil(month, zone), absl::FromCivil(month + 1, zone),
                    absl::ZeroDuration()}};
}

// The last calendars this thread made: six conversions from civil time each (most of a plan's
// time-zone work), while a stream of decisions mostly shares a few zones and one day. Fixed in
// size, per thread: no lock, no growth.
struct RecentCalendar {
  absl::TimeZone zone;
  absl::CivilDay day;
  absl::Weekday week_starts = absl::Weekday::monday;
  Calendar calendar;
  bool set = false;
};
constexpr int kRecentCalendars = 8;

}  // namespace

Calendar CalendarAt(absl::Time at, absl::TimeZone zone, absl::Weekday week_starts) {
  thread_local std::array<RecentCalendar, kRecentCalendars> recent;
  thread_local int next = 0;
  const absl::CivilDay day = absl::ToCivilDay(at, zone);
  for (const RecentCalendar& each : recent) {
    if (each.set && each.day == day && each.week_starts == week_starts && each.zone == zone) {
      return each.calendar;
    }
  }
  RecentCalendar& slot = recent[next];
  next = (next + 1) % kRecentCalendars;
  slot = {.zone = zone, .day = day, .week_starts = week_starts,
          .calendar = CalendarOf(day, zone, week_starts), .set = true};
  return slot.calendar;
}

WindowBounds BoundsIn(const Window& window, absl::Time at, const Calendar& calendar) {
  switch (window.kind) {
    case WindowKind::kRolling: return RollingBounds(window.length, at);
    case WindowKind::kDay: return calendar.day;
    case WindowKind::kWeek: return calendar.week;
    case WindowKind::kMonth: return calendar.month;
  }
  return {at, at, absl::ZeroDuration()};
}

}  // namespace sendgate::core
