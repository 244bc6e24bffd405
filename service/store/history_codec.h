// The packed form of a contact's send history in Redis: one string of records laid out as
// script_contract.h says (SENDGATE_RECORD_FIELDS), which the scripts write and read.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/core/send_record.h"

namespace sendgate::store {

// A kCorruptHistory store error when `blob` is not a whole number of records.
absl::StatusOr<std::vector<core::SendRecord>> DecodeHistory(absl::string_view blob);

// The stored form of `records` (what the scripts write; for tests and tools).
std::string EncodeHistory(const std::vector<core::SendRecord>& records);

// A contact's planned sends as stored (contract::kPlannedSend records), and back.
absl::StatusOr<std::vector<core::PlannedSend>> DecodePlanned(absl::string_view blob);
std::string EncodePlanned(const std::vector<core::PlannedSend>& planned);

// A history a version before editions stored (contract::kV1RecordBytes records), read as
// today's: no edition.
absl::StatusOr<std::vector<core::SendRecord>> DecodeV1History(absl::string_view blob);

// `records` in that older layout (for tests of the move to today's; editions are lost).
std::string EncodeV1History(const std::vector<core::SendRecord>& records);

}  // namespace sendgate::store
