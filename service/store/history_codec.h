// The packed form of a contact's send history in Redis: one string of 40-byte records, read by
// decide.lua with struct.unpack('<i8c8I4I4I4I4I4HBB'). Offsets (1-based, as in Lua):
//   1-8 sent at (ms since the epoch)  9-16 message hash   17-36 channel, category, subscription,
//   program, campaign ids (u32 each)  37-38 weight         39 priority   40 denied code (0 = sent)
// All little-endian. Changing this layout means migrating every stored history.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "service/core/send_record.h"

namespace sendgate::store {

inline constexpr size_t kRecordBytes = 40;

void AppendRecord(const core::SendRecord& record, std::string& out);
std::string EncodeHistory(const std::vector<core::SendRecord>& history);
// Fails when `blob` is not a whole number of records.
absl::StatusOr<std::vector<core::SendRecord>> DecodeHistory(absl::string_view blob);

// The 8 bytes under which a message hash is stored (bytes 9-16 of its record).
std::string PackedHash(uint64_t message_hash);

}  // namespace sendgate::store
