#include "service/policy/time_zones.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sendgate::policy {
namespace {

// A zone name as tzdata.zi writes one: letters, digits and "/_-+", no "." (so no "..").
bool PlausibleName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<const TimeZones>> TimeZones::Load(const std::string& zoneinfo_dir) {
  const std::string index = zoneinfo_dir + "/tzdata.zi";
  std::ifstream file(index);
  if (!file) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read ", index, ": sendgate needs the system's time-zone database (install the "
        "tzdata package)"));
  }
  auto zones = std::unique_ptr<TimeZones>(new TimeZones());
  std::string line;
  while (std::getline(file, line)) {
    // "Z Europe/Paris ..." names a zone; "L Europe/Paris Europe/Monaco" a link to one.
    const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    absl::string_view name;
    if (words.size() >= 2 && words[0] == "Z") name = words[1];
    if (words.size() >= 3 && words[0] == "L") name = words[2];
    if (!PlausibleName(name)) continue;
    absl::TimeZone zone;
    if (absl::LoadTimeZone(std::string(name), &zone)) zones->zones_.emplace(name, zone);
  }
  if (zones->zones_.empty()) {
    return absl::NotFoundError(absl::StrCat(index, " names no time zone that loads"));
  }
  return std::unique_ptr<const TimeZones>(std::move(zones));
}

std::optional<absl::TimeZone> TimeZones::Find(absl::string_view name) const {
  auto it = zones_.find(name);
  if (it == zones_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<const TimeZones*> SystemTimeZones() {
  static const auto* const loaded = [] {
    const char* dir = std::getenv("TZDIR");
    return new absl::StatusOr<std::unique_ptr<const TimeZones>>(
        TimeZones::Load(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo"));
  }();
  if (!loaded->ok()) return loaded->status();
  return loaded->value().get();
}

std::optional<absl::TimeZone> FindTimeZone(absl::string_view name) {
  absl::StatusOr<const TimeZones*> zones = SystemTimeZones();
  if (!zones.ok()) return std::nullopt;
  return (*zones)->Find(name);
}

}  // namespace sendgate::policy
