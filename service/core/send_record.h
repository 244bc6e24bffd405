// One entry of a contact's send history: a counted send, or a denial kept to answer replays.
// The store packs it in 36 bytes (service/store/history_codec.h); this is the value type.
#pragma once

#include <array>
#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/time/time.h"

namespace sendgate::core {

// The message attributes a cap can filter or partition on, in their stored order. The edition
// is a campaign's issue or a scenario's step ("2026-W48", "step-2"): a cap counted per campaign
// and edition refuses the same edition twice and lets the next one through.
enum class Field : uint8_t { kChannel = 0, kCategory, kSubscription, kProgram, kCampaign, kEdition };
inline constexpr int kFieldCount = 6;
absl::string_view FieldName(Field field);

// FieldId()s of a message's channel, category, subscription, program, campaign and edition
// (0 = none).
using FieldIds = std::array<uint32_t, kFieldCount>;

struct SendRecord {
  absl::Time at;  // millisecond precision
  uint64_t message_hash = 0;
  FieldIds ids{};
  uint16_t weight = 1;
  uint8_t priority = 0;
  // 0: a counted send. Otherwise the message was denied with this Reason::Code; the record does
  // not count against caps and is kept only so that a replay gets the same answer.
  uint8_t denied_code = 0;

  uint32_t id(Field field) const { return ids[static_cast<int>(field)]; }
  bool counted() const { return denied_code == 0; }
  friend bool operator==(const SendRecord&, const SendRecord&) = default;
};

// A send a campaign tool announced before making it (Arbiter.Plan): it keeps the room it will
// need in the contact's caps from messages of lower priority, until its own decision consumes
// it or it expires. Identified by its campaign and edition.
struct PlannedSend {
  absl::Time at;         // when it is planned, millisecond precision
  absl::Time announced;  // when it was announced: on equal priorities the earliest wins
  FieldIds ids{};
  uint16_t weight = 1;
  uint8_t priority = 0;

  uint32_t id(Field field) const { return ids[static_cast<int>(field)]; }
  // Whether it is the planned send of a message with these ids (same campaign and edition).
  bool SameSend(const FieldIds& other) const;
  friend bool operator==(const PlannedSend&, const PlannedSend&) = default;
};

}  // namespace sendgate::core
