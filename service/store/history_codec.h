// The packed form of a contact's send history in Redis: one string of 32-byte records, written
// and read by the scripts with struct '<I6I4I4HHHI4I4HBB'. Offsets (1-based, as in Lua):
//   1-6 sent at (ms since the epoch)   7-14 message hash (low 32 bits first)   15-16 channel
//   17-18 category
//   19-20 subscription   21-24 program   25-28 campaign   29-30 weight   31 priority
//   32 denied code (0 = a counted send)
// All little-endian. Small on purpose: memory per contact is the budget (docs/redis.md).
// Changing this layout means migrating every stored history.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "service/core/send_record.h"

namespace sendgate::store {

inline constexpr size_t kRecordBytes = 32;

// Fails when `blob` is not a whole number of records.
absl::StatusOr<std::vector<core::SendRecord>> DecodeHistory(absl::string_view blob);

}  // namespace sendgate::store
