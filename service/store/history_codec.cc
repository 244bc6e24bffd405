#include "service/store/history_codec.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sendgate::store {
namespace {

// Stored widths of channel, category, subscription, program and campaign ids (core::FieldId).
constexpr int kIdBytes[core::kFieldCount] = {2, 2, 2, 4, 4};

uint64_t GetLittleEndian(absl::string_view in, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(in[offset + i]);
  }
  return value;
}

}  // namespace

absl::StatusOr<std::vector<core::SendRecord>> DecodeHistory(absl::string_view blob) {
  if (blob.size() % kRecordBytes != 0) {
    return absl::DataLossError(
        absl::StrCat("history of ", blob.size(), " bytes is not a whole number of records"));
  }
  std::vector<core::SendRecord> history;
  history.reserve(blob.size() / kRecordBytes);
  for (size_t offset = 0; offset < blob.size(); offset += kRecordBytes) {
    core::SendRecord& record = history.emplace_back();
    record.at = absl::FromUnixMillis(static_cast<int64_t>(GetLittleEndian(blob, offset, 6)));
    record.message_hash = GetLittleEndian(blob, offset + 6, 8);
    size_t at = offset + 14;
    for (int i = 0; i < core::kFieldCount; ++i) {
      record.ids[i] = static_cast<uint32_t>(GetLittleEndian(blob, at, kIdBytes[i]));
      at += kIdBytes[i];
    }
    record.weight = static_cast<uint16_t>(GetLittleEndian(blob, offset + 28, 2));
    record.priority = static_cast<uint8_t>(GetLittleEndian(blob, offset + 30, 1));
    record.denied_code = static_cast<uint8_t>(GetLittleEndian(blob, offset + 31, 1));
  }
  return history;
}

}  // namespace sendgate::store
