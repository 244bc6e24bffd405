// The IANA time-zone names sendgate accepts, from the system's tzdata, loaded once at start.
// The only way a name from a request, a stored profile or a policy file becomes a zone: absl's
// loader takes any string as a path under the zoneinfo directory ("/dev/ptmx", "../..") and
// caches every spelling forever, so a name not in this table is refused without touching the
// file system, and the table never grows.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sendgate::policy {

class TimeZones {
 public:
  // Every zone and link named in `zoneinfo_dir`/tzdata.zi, each loaded.
  static absl::StatusOr<std::unique_ptr<const TimeZones>> Load(const std::string& zoneinfo_dir);

  // The zone of an exact IANA name ("Europe/Paris", "UTC"), or nothing.
  std::optional<absl::TimeZone> Find(absl::string_view name) const;
  size_t size() const { return zones_.size(); }

 private:
  absl::flat_hash_map<std::string, absl::TimeZone> zones_;
};

// The table of the system's tzdata (/usr/share/zoneinfo, or $TZDIR), loaded on first use;
// main.cc loads it at start so that a machine without tzdata stops at once, saying so.
absl::StatusOr<const TimeZones*> SystemTimeZones();

// SystemTimeZones()->Find(name), or nothing when the table could not be loaded.
std::optional<absl::TimeZone> FindTimeZone(absl::string_view name);

}  // namespace sendgate::policy
