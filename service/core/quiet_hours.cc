#include "service/core/quiet_hours.h"

#include <algorithm>

namespace sendgate::core {
namespace {

// A local minute as an instant: a minute skipped by a DST change (spring forward) is the
// transition itself; a repeated one (fall back) is its first occurrence.
absl::Time Instant(absl::CivilMinute minute, absl::TimeZone zone) {
  const absl::TimeZone::TimeInfo info = zone.At(absl::CivilSecond(minute));
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

bool Closed(const QuietHours& rule, const std::vector<HolidayCalendar>& calendars,
            absl::CivilDay day) {
  return std::any_of(rule.closed_on.begin(), rule.closed_on.end(),
                     [&](int calendar) { return calendars[calendar].Contains(day); });
}

}  // namespace

absl::CivilDay EasterSunday(int64_t year) {
  const int64_t a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4;
  const int64_t f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
  const int64_t i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int64_t m = (a + 11 * h + 22 * l) / 451;
  const int64_t month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, static_cast<int>(month), static_cast<int>(day));
}

std::vector<absl::CivilDay> FrenchPublicHolidays(int64_t year) {
  const absl::CivilDay easter = EasterSunday(year);
  std::vector<absl::CivilDay> days = {absl::CivilDay(year, 1, 1),
                                      easter + 1,
                                      absl::CivilDay(year, 5, 1),
                                      absl::CivilDay(year, 5, 8),
                                      easter + 39,
                                      easter + 50,
                                      absl::CivilDay(year, 7, 14),
                                      absl::CivilDay(year, 8, 15),
                                      absl::CivilDay(year, 11, 1),
                                      absl::CivilDay(year, 11, 11),
                                      absl::CivilDay(year, 12, 25)};
  std::sort(days.begin(), days.end());
  return days;
}

bool HolidayCalendar::Contains(absl::CivilDay day) const {
  if (dates.count(day) > 0) return true;
  if (!french_public_holidays) return false;
  const std::vector<absl::CivilDay> holidays = FrenchPublicHolidays(day.year());
  return std::find(holidays.begin(), holidays.end(), day) != holidays.end();
}

int WeekdayIndex(absl::CivilDay day) { return static_cast<int>(absl::GetWeekday(day)); }

absl::Time NextAllowed(const QuietHours& rule, const std::vector<HolidayCalendar>& calendars,
                       absl::Time at, absl::TimeZone zone, int horizon) {
  // A window never crosses midnight, so none that started before `at`'s local day is open.
  const absl::CivilDay first(zone.At(at).cs);
  for (int i = 0; i < horizon; ++i) {
    const absl::CivilDay day = first + i;
    if (Closed(rule, calendars, day)) continue;
    for (const DayWindow& window : rule.allowed[WeekdayIndex(day)]) {
      const absl::Time end = Instant(absl::CivilMinute(day) + window.to, zone);
      if (at < end) return std::max(at, Instant(absl::CivilMinute(day) + window.from, zone));
    }
  }
  return absl::InfiniteFuture();
}

}  // namespace sendgate::core
