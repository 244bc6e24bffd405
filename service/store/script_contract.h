// The contract between the store's C++ and its Lua scripts, written once: the record layout,
// the argument layout of a decision plan, the reply layout, sentinels and bounds. The Lua side
// is generated from this file at build time (lua_contract.cc writes contract.lua, prepended to
// every script), so the two sides cannot disagree: a change here changes both.
#pragma once

#include <array>
#include <cstdint>

#include "service/core/history.h"
#include "service/core/send_record.h"

namespace sendgate::store::contract {

// X(C++ name, Lua name, width in bytes): a history record's fields in stored order, each an
// unsigned little-endian integer. Memory per contact is the budget (docs/redis.md); changing
// this layout means migrating every stored history.
#define SENDGATE_RECORD_FIELDS(X) \
  X(kAt, AT, 6)                   \
  X(kHashLow, HASH_LOW, 4)        \
  X(kHashHigh, HASH_HIGH, 4)      \
  X(kChannel, CHANNEL, 2)         \
  X(kCategory, CATEGORY, 2)       \
  X(kSubscription, SUBSCRIPTION, 2) \
  X(kProgram, PROGRAM, 4)         \
  X(kCampaign, CAMPAIGN, 4)       \
  X(kWeight, WEIGHT, 2)           \
  X(kPriority, PRIORITY, 1)       \
  X(kDenied, DENIED, 1)

// X(C++ name, Lua name): the head of decide.lua's plan (ARGV[1], a JSON array of numbers), in
// order. Times are milliseconds since the epoch; ids are core::FieldId()s.
#define SENDGATE_PLAN_SLOTS(X)    \
  X(kSendAt, SEND_AT)             \
  X(kHashLow, HASH_LOW)           \
  X(kHashHigh, HASH_HIGH)         \
  X(kChannel, CHANNEL)            \
  X(kCategory, CATEGORY)          \
  X(kSubscription, SUBSCRIPTION)  \
  X(kProgram, PROGRAM)            \
  X(kCampaign, CAMPAIGN)          \
  X(kWeight, WEIGHT)              \
  X(kPriority, PRIORITY)          \
  X(kExempt, EXEMPT)              \
  X(kDenyCode, DENY_CODE)         \
  X(kDenyAfter, DENY_AFTER)       \
  X(kKeepAfter, KEEP_AFTER)       \
  X(kTrimBefore, TRIM_BEFORE)     \
  X(kRetention, RETENTION)        \
  X(kNow, NOW)                    \
  X(kCapCount, CAP_COUNT)

// X(C++ name, Lua name): each cap of the plan, after the head, in order; then its matches,
// each as: field (core::Field + 1), number of ids, the ids.
#define SENDGATE_CAP_SLOTS(X)         \
  X(kStart, START)                    \
  X(kEnd, END)                        \
  X(kSlide, SLIDE)                    \
  X(kLimit, LIMIT)                    \
  X(kCountsExempt, COUNTS_EXEMPT)     \
  X(kMatchCount, MATCH_COUNT)

// X(C++ name, Lua name, value): the outcome decide.lua answers.
#define SENDGATE_OUTCOMES(X)                 \
  X(kAllowed, ALLOWED, 1)                    \
  X(kDeferred, DEFERRED, 2)                  \
  X(kDenied, DENIED, 3)                      \
  X(kReplayAllowed, REPLAY_ALLOWED, 4)       \
  X(kReplayDenied, REPLAY_DENIED, 5)

// X(C++ name, Lua name): decide.lua's reply, an array of integers: this head, then for a
// decided outcome (allowed, deferred, denied) each cap of the plan as (used, room).
#define SENDGATE_REPLY_SLOTS(X) \
  X(kOutcome, OUTCOME)          \
  X(kAt, AT)                    \
  X(kCode, CODE)

// X(C++ name, Lua name): the KEYS of decide.lua and cancel.lua, in order.
#define SENDGATE_KEYS(X) \
  X(kMain, MAIN)         \
  X(kExempt, EXEMPT)

// X(C++ name, Lua name): the ARGV of cancel.lua, in order.
#define SENDGATE_CANCEL_ARGS(X) \
  X(kHashLow, HASH_LOW)         \
  X(kHashHigh, HASH_HIGH)

#define SENDGATE_ENUM_ENTRY(name, ...) name,
enum class RecordField { SENDGATE_RECORD_FIELDS(SENDGATE_ENUM_ENTRY) kCount };
enum class PlanSlot { SENDGATE_PLAN_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class CapSlot { SENDGATE_CAP_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class ReplySlot { SENDGATE_REPLY_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class Key { SENDGATE_KEYS(SENDGATE_ENUM_ENTRY) kCount };
enum class CancelArg { SENDGATE_CANCEL_ARGS(SENDGATE_ENUM_ENTRY) kCount };
#undef SENDGATE_ENUM_ENTRY
#define SENDGATE_OUTCOME_ENTRY(name, lua, value) name = value,
enum class Outcome { SENDGATE_OUTCOMES(SENDGATE_OUTCOME_ENTRY) };
#undef SENDGATE_OUTCOME_ENTRY

#define SENDGATE_WIDTH_ENTRY(name, lua, bytes) bytes,
inline constexpr std::array<int, static_cast<int>(RecordField::kCount)> kFieldBytes = {
    SENDGATE_RECORD_FIELDS(SENDGATE_WIDTH_ENTRY)};
#undef SENDGATE_WIDTH_ENTRY

// Where `field` starts in a record, from 0.
constexpr int Offset(RecordField field) {
  int offset = 0;
  for (int i = 0; i < static_cast<int>(field); ++i) offset += kFieldBytes[i];
  return offset;
}
inline constexpr int kRecordBytes = Offset(RecordField::kCount);

// The five ids are stored in core::Field order, so a match's field number picks its id.
static_assert(static_cast<int>(RecordField::kCampaign) - static_cast<int>(RecordField::kChannel) ==
              core::kFieldCount - 1);
static_assert(static_cast<int>(PlanSlot::kCampaign) - static_cast<int>(PlanSlot::kChannel) ==
              core::kFieldCount - 1);

// Room sentinels in a cap's (used, room) pair: room now, or never (a message heavier than the
// limit). Any other room is an instant in milliseconds.
inline constexpr int64_t kRoomNow = 0;
inline constexpr int64_t kNever = -1;
// An infinite instant in the plan: Lua numbers are doubles, so 2^53 and not int64's maximum.
inline constexpr int64_t kInfiniteMillis = int64_t{1} << 53;

// A list shorter than this many records is written whole with SET (exact allocation); a longer
// one is appended to (docs/redis.md, "The life of a list").
inline constexpr int kSetUpTo = 64;

// X(Lua name, value): every bound a script needs.
#define SENDGATE_BOUNDS(X)                                 \
  X(MAX_COUNTED, core::kMaxCountedRecords)                 \
  X(COUNTED_FLOOR, core::kCountedFloor)                    \
  X(MAX_DENIED, core::kMaxDeniedRecords)                   \
  X(DENIED_FLOOR, core::kDeniedFloor)                      \
  X(EXEMPT_REPLAY_DEPTH, core::kExemptReplayDepth)         \
  X(SET_UP_TO, kSetUpTo)                                   \
  X(ROOM_NOW, kRoomNow)                                    \
  X(NEVER, kNever)

}  // namespace sendgate::store::contract
