// Quiet hours: when a channel may reach a contact, in the contact's time zone. A rule allows
// windows per day of the week (any number per day) and may close on the days of holiday
// calendars; outside them its messages wait (DEFER to the next allowed instant, reason
// QUIET_HOURS). Pure functions of the policy, the message and an instant: no store.
#pragma once

#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace sendgate::core {

// An allowed window of a day, in minutes from local midnight: [from, to), 0 <= from < to <= 1440.
struct DayWindow {
  int from = 0;
  int to = 0;
  bool operator==(const DayWindow&) const = default;
};

// A set of days on which a quiet-hours rule allows nothing.
struct HolidayCalendar {
  std::string name;
  bool french_public_holidays = false;  // built-in: `builtin: france`
  std::set<absl::CivilDay> dates;       // explicit dates

  bool Contains(absl::CivilDay day) const;
};

struct QuietHours {
  std::string id;
  std::string description;  // generated from the windows, for reasons
  // Which messages the rule applies to, by index into Policy::channels and ::categories;
  // empty: every one (categories exempt from quiet hours never).
  std::vector<int> channels;
  std::vector<int> categories;
  // Only for contacts in one of these segments (a state's own law, say); empty: every contact.
  std::vector<std::string> segments;
  // Allowed windows by day of the week, Monday first, each sorted and disjoint.
  std::array<std::vector<DayWindow>, 7> allowed;
  std::vector<int> closed_on;  // indices into Policy::holidays
};

// The French public holidays of `year` (Code du travail, art. L3133-1): 1 January, Easter
// Monday, 1 May, 8 May, Ascension, Whit Monday, 14 July, 15 August, 1 November, 11 November,
// 25 December.
std::vector<absl::CivilDay> FrenchPublicHolidays(int64_t year);

// Easter Sunday of a Gregorian `year` (the anonymous Gregorian computus).
absl::CivilDay EasterSunday(int64_t year);

// Days of the week Monday first: 0 for Monday ... 6 for Sunday.
int WeekdayIndex(absl::CivilDay day);

// The earliest instant at or after `at` when `rule` allows sending in `zone`, or
// InfiniteFuture when it allows nothing within `horizon` days. A window that starts in a
// skipped hour (spring forward) opens at the transition; the instants are exact across DST.
absl::Time NextAllowed(const QuietHours& rule, const std::vector<HolidayCalendar>& calendars,
                       absl::Time at, absl::TimeZone zone, int horizon = 400);

}  // namespace sendgate::core
