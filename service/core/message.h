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
  FieldIds ids{};    // FieldId()s of channel, category, subscription, program, campaign
  int weight = 1;
  int priority = 0;
  std::vector<std::string> segments;
  absl::TimeZone timezone;
  absl::Time send_at;  // millisecond precision
  std::optional<absl::Time> expires_at;

  uint32_t id(Field field) const { return ids[static_cast<int>(field)]; }
};

}  // namespace sendgate::core
