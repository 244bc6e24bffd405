// A validated message, resolved against one policy snapshot (service/api builds it from the
// request and rejects what does not fit).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "service/core/send_record.h"

namespace sendgate::core {

struct Message {
  std::string message_id;
  std::string contact_id;
  int channel = 0;   // index into Policy::channels
  int category = 0;  // index into Policy::categories
  int program = -1;  // index into Policy::programs, when the policy declares programs
  FieldIds ids{};    // FieldId()s of channel, category, subscription, program, campaign
  int weight = 1;
  int priority = 0;
  std::vector<std::string> segments;  // sorted, unique
  absl::TimeZone timezone;
  // Set when the request left the time zone (or the segments) out: the contact's stored
  // profile as sendgate last saw it ("" / empty: none), which `timezone` (`segments`) then
  // follows; the store answers CheckOutcome::kProfileChanged when the stored one differs.
  std::optional<std::string> stored_timezone;
  std::optional<std::vector<std::string>> stored_segments;
  absl::Time send_at;  // millisecond precision
  std::optional<absl::Time> expires_at;
  // Evaluate without recording anything (DecideRequest.dry_run).
  bool dry_run = false;

  uint32_t id(Field field) const { return ids[static_cast<int>(field)]; }
};

}  // namespace sendgate::core
