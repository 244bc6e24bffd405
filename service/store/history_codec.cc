#include "service/store/history_codec.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "service/store/packed.h"
#include "service/store/script_contract.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

using contract::RecordField;

uint64_t Get(absl::string_view record, RecordField field) {
  return GetLittleEndian(record, contract::Offset(field),
                         contract::kFieldBytes[static_cast<int>(field)]);
}

void Put(std::string& record, RecordField field, uint64_t value) {
  PutLittleEndian(record, contract::Offset(field), contract::kFieldBytes[static_cast<int>(field)],
                  value);
}

// The record field of a message's `field` id.
RecordField IdField(int field) {
  return static_cast<RecordField>(static_cast<int>(RecordField::kChannel) + field);
}

}  // namespace

absl::StatusOr<std::vector<core::SendRecord>> DecodeHistory(absl::string_view blob) {
  if (blob.size() % contract::kRecordBytes != 0) {
    return StoreError(StoreErrorKind::kCorruptHistory,
                      absl::StrCat("a stored history of ", blob.size(),
                                   " bytes is not a whole number of records"));
  }
  std::vector<core::SendRecord> history;
  history.reserve(blob.size() / contract::kRecordBytes);
  for (size_t offset = 0; offset < blob.size(); offset += contract::kRecordBytes) {
    const absl::string_view record = blob.substr(offset, contract::kRecordBytes);
    core::SendRecord& out = history.emplace_back();
    out.at = absl::FromUnixMillis(static_cast<int64_t>(Get(record, RecordField::kAt)));
    out.message_hash =
        Get(record, RecordField::kHashLow) | (Get(record, RecordField::kHashHigh) << 32);
    for (int i = 0; i < core::kFieldCount; ++i) {
      out.ids[i] = static_cast<uint32_t>(Get(record, IdField(i)));
    }
    out.weight = static_cast<uint16_t>(Get(record, RecordField::kWeight));
    out.priority = static_cast<uint8_t>(Get(record, RecordField::kPriority));
    out.denied_code = static_cast<uint8_t>(Get(record, RecordField::kDenied));
  }
  return history;
}

std::string EncodeHistory(const std::vector<core::SendRecord>& records) {
  std::string blob;
  for (const core::SendRecord& in : records) {
    std::string record(contract::kRecordBytes, '\0');
    Put(record, RecordField::kAt, static_cast<uint64_t>(absl::ToUnixMillis(in.at)));
    Put(record, RecordField::kHashLow, in.message_hash & 0xffffffff);
    Put(record, RecordField::kHashHigh, in.message_hash >> 32);
    for (int i = 0; i < core::kFieldCount; ++i) Put(record, IdField(i), in.ids[i]);
    Put(record, RecordField::kWeight, in.weight);
    Put(record, RecordField::kPriority, in.priority);
    Put(record, RecordField::kDenied, in.denied_code);
    blob += record;
  }
  return blob;
}

namespace {

using contract::PlannedField;

uint64_t Get(absl::string_view entry, PlannedField field) {
  return GetLittleEndian(entry, contract::kPlannedSend.Offset(field),
                         contract::kPlannedSend.bytes[static_cast<int>(field)]);
}

void Put(std::string& entry, PlannedField field, uint64_t value) {
  PutLittleEndian(entry, contract::kPlannedSend.Offset(field),
                  contract::kPlannedSend.bytes[static_cast<int>(field)], value);
}

PlannedField PlannedIdField(int field) {
  return static_cast<PlannedField>(static_cast<int>(PlannedField::kChannel) + field);
}

}  // namespace

absl::StatusOr<std::vector<core::PlannedSend>> DecodePlanned(absl::string_view blob) {
  const size_t size = contract::kPlannedSend.size();
  if (blob.size() % size != 0) {
    return StoreError(StoreErrorKind::kCorruptHistory,
                      absl::StrCat("a contact's planned sends of ", blob.size(),
                                   " bytes are not a whole number of them"));
  }
  std::vector<core::PlannedSend> planned;
  for (size_t offset = 0; offset < blob.size(); offset += size) {
    const absl::string_view entry = blob.substr(offset, size);
    core::PlannedSend& out = planned.emplace_back();
    out.at = absl::FromUnixMillis(static_cast<int64_t>(Get(entry, PlannedField::kAt)));
    out.announced =
        absl::FromUnixMillis(static_cast<int64_t>(Get(entry, PlannedField::kAnnounced)));
    for (int i = 0; i < core::kFieldCount; ++i) {
      out.ids[i] = static_cast<uint32_t>(Get(entry, PlannedIdField(i)));
    }
    out.weight = static_cast<uint16_t>(Get(entry, PlannedField::kWeight));
    out.priority = static_cast<uint8_t>(Get(entry, PlannedField::kPriority));
  }
  return planned;
}

std::string EncodePlanned(const std::vector<core::PlannedSend>& planned) {
  std::string blob;
  for (const core::PlannedSend& in : planned) {
    std::string entry(contract::kPlannedSend.size(), '\0');
    Put(entry, PlannedField::kAt, static_cast<uint64_t>(absl::ToUnixMillis(in.at)));
    Put(entry, PlannedField::kAnnounced, static_cast<uint64_t>(absl::ToUnixMillis(in.announced)));
    for (int i = 0; i < core::kFieldCount; ++i) Put(entry, PlannedIdField(i), in.ids[i]);
    Put(entry, PlannedField::kWeight, in.weight);
    Put(entry, PlannedField::kPriority, in.priority);
    blob += entry;
  }
  return blob;
}

absl::StatusOr<std::vector<core::SendRecord>> DecodeV1History(absl::string_view blob) {
  if (blob.size() % contract::kV1RecordBytes != 0) {
    return StoreError(StoreErrorKind::kCorruptHistory,
                      absl::StrCat("a history of ", blob.size(), " bytes kept by a version before "
                                   "editions is not a whole number of records"));
  }
  const std::string none(contract::kEditionBytes, '\0');
  std::string upgraded;
  for (size_t offset = 0; offset < blob.size(); offset += contract::kV1RecordBytes) {
    const absl::string_view record = blob.substr(offset, contract::kV1RecordBytes);
    absl::StrAppend(&upgraded, record.substr(0, contract::kEditionOffset), none,
                    record.substr(contract::kEditionOffset));
  }
  return DecodeHistory(upgraded);
}

std::string EncodeV1History(const std::vector<core::SendRecord>& records) {
  const std::string today = EncodeHistory(records);
  std::string old;
  for (size_t offset = 0; offset < today.size(); offset += contract::kRecordBytes) {
    const absl::string_view record = absl::string_view(today).substr(offset, contract::kRecordBytes);
    absl::StrAppend(&old, record.substr(0, contract::kEditionOffset),
                    record.substr(contract::kEditionOffset + contract::kEditionBytes));
  }
  return old;
}

}  // namespace sendgate::store
