// The contract between the store's C++ and its Lua scripts, written once: the record layout,
// the argument layout of a decision plan, the reply layout, sentinels and bounds. The Lua side
// is generated from this file at build time (lua_contract.cc writes contract.lua, prepended to
// every script), so the two sides cannot disagree: a change here changes both.
#pragma once

#include <array>
#include <cstdint>

#include "service/core/check_plan.h"
#include "service/core/history.h"
#include "service/core/preference_rules.h"
#include "service/core/preferences.h"
#include "service/core/window.h"
#include "service/core/send_record.h"

namespace sendgate::store::contract {

// X(C++ name, Lua name, width in bytes): a message's ids (core::FieldIds) as stored, in
// core::Field order, in a history record and in a planned send alike.
#define SENDGATE_ID_FIELDS(X)       \
  X(kChannel, CHANNEL, 2)           \
  X(kCategory, CATEGORY, 2)         \
  X(kSubscription, SUBSCRIPTION, 2) \
  X(kProgram, PROGRAM, 4)           \
  X(kCampaign, CAMPAIGN, 4)         \
  X(kEdition, EDITION, 4)

// X(C++ name, Lua name, width in bytes): a history record's fields in stored order, each an
// unsigned little-endian integer. Memory per contact is the budget (docs/redis.md); changing
// this layout means migrating every stored history (as kV1RecordBytes below does).
#define SENDGATE_RECORD_FIELDS(X) \
  X(kAt, AT, 6)                   \
  X(kHashLow, HASH_LOW, 4)        \
  X(kHashHigh, HASH_HIGH, 4)      \
  SENDGATE_ID_FIELDS(X)           \
  X(kWeight, WEIGHT, 2)           \
  X(kPriority, PRIORITY, 1)       \
  X(kDenied, DENIED, 1)

// X(C++ name, Lua name, width in bytes): a planned send (Arbiter.Plan) in a contact's list of
// them, sg:{<contact>}:l, in stored order.
#define SENDGATE_PLANNED_FIELDS(X) \
  X(kAt, AT, 6)                    \
  X(kAnnounced, ANNOUNCED, 6)      \
  SENDGATE_ID_FIELDS(X)            \
  X(kWeight, WEIGHT, 2)            \
  X(kPriority, PRIORITY, 1)

// X(C++ name, Lua name): the head of decide.lua's plan (ARGV[1], packed numbers:
// kPlanNumberFormat below), in order. Times are milliseconds since the epoch; ids are
// core::FieldId()s; flags are 0 or 1.
#define SENDGATE_PLAN_SLOTS(X)                        \
  X(kSendAt, SEND_AT)                                 \
  X(kHashLow, HASH_LOW)                               \
  X(kHashHigh, HASH_HIGH)                             \
  X(kChannel, CHANNEL)                                \
  X(kCategory, CATEGORY)                              \
  X(kSubscription, SUBSCRIPTION)                      \
  X(kProgram, PROGRAM)                                \
  X(kCampaign, CAMPAIGN)                              \
  X(kEdition, EDITION)                                \
  X(kWeight, WEIGHT)                                  \
  X(kPriority, PRIORITY)                              \
  X(kExempt, EXEMPT)                                  \
  X(kDenyAfter, DENY_AFTER)                           \
  X(kKeepAfter, KEEP_AFTER)                           \
  X(kTrimBefore, TRIM_BEFORE)                         \
  X(kRetention, RETENTION)                            \
  X(kNow, NOW)                                        \
  X(kOptIn, OPT_IN)                                   \
  X(kExemptOptOut, EXEMPT_OPT_OUT)                    \
  X(kExemptSubscriptions, EXEMPT_SUBSCRIPTIONS)       \
  X(kExemptPause, EXEMPT_PAUSE)                       \
  X(kExemptFrequency, EXEMPT_FREQUENCY)               \
  X(kTimezoneFingerprint, TZ_FP)                      \
  X(kSegmentsFingerprint, SEGMENTS_FP)                \
  X(kDayStart, DAY_START)                             \
  X(kDayEnd, DAY_END)                                 \
  X(kWeekStart, WEEK_START)                           \
  X(kWeekEnd, WEEK_END)                               \
  X(kMonthStart, MONTH_START)                         \
  X(kMonthEnd, MONTH_END)                             \
  X(kFrequencyCountsExempt, FREQUENCY_COUNTS_EXEMPT)  \
  X(kPlannedGrace, PLANNED_GRACE)                     \
  X(kCapCount, CAP_COUNT)

// X(C++ name, Lua name): each cap's window in the plan, after the head, in order. After the
// caps: the number of categories a contact's own frequency counts, then their ids.
#define SENDGATE_CAP_SLOTS(X) \
  X(kStart, START)            \
  X(kEnd, END)

// X(C++ name, Lua name): each cap's scope, in the plan's cap scopes (ARGV CAP_SCOPES, packed
// numbers as the plan), in the order of the plan's caps; then its matches, each as: field
// (core::Field + 1), number of ids, the ids. What a cap's scope holds does not change with the
// send's time: decide.lua compiles each distinct one once.
#define SENDGATE_SCOPE_SLOTS(X)   \
  X(kSlide, SLIDE)                \
  X(kLimit, LIMIT)                \
  X(kCountsExempt, COUNTS_EXEMPT) \
  X(kMatchCount, MATCH_COUNT)

// X(C++ name, Lua name): each capacity counter of the plan, after the contact's own frequency's
// categories (their number comes first, then the counters'). KEY: the position (from 1) in
// KEYS of the counter's key; the plan's counters follow the contact's keys, then the shadow
// plan's. KEY 0 (Redis Cluster, where the counter is in another slot): the counter was taken
// or read by a call of its own before (capacity_take.lua), USED is its value before the
// message, and decide.lua neither reads nor counts it.
#define SENDGATE_CAPACITY_SLOTS(X) \
  X(kKey, KEY)                     \
  X(kLimit, LIMIT)                 \
  X(kEnd, END)                     \
  X(kUsed, USED)

// X(C++ name, Lua name, value): the outcome decide.lua answers.
#define SENDGATE_OUTCOMES(X)                 \
  X(kAllowed, ALLOWED, 1)                    \
  X(kDeferred, DEFERRED, 2)                  \
  X(kDenied, DENIED, 3)                      \
  X(kReplayAllowed, REPLAY_ALLOWED, 4)       \
  X(kReplayDenied, REPLAY_DENIED, 5)        \
  X(kProfileChanged, PROFILE_CHANGED, 6)

// X(C++ name, Lua name): decide.lua's reply, an array of integers: this head (AT: the retry, or
// a replay's first time; CODE: the denial's reason code, or a replay's), then for a decided
// outcome (allowed, deferred, denied) each cap of the plan and each capacity counter as
// SENDGATE_COUNTED_SLOTS, then the number of verdicts and each as SENDGATE_VERDICT_SLOTS. PROFILE_CHANGED: the head, then the stored
// profile (a string, see SENDGATE_PREFERENCE_HEAD).
#define SENDGATE_REPLY_SLOTS(X) \
  X(kOutcome, OUTCOME)          \
  X(kAt, AT)                    \
  X(kCode, CODE)

// X(C++ name, Lua name): a cap's or a capacity counter's answer in decide.lua's reply
// (core::CapResult): its usage, its room (ROOM_NOW, NEVER or an instant), and the weight the
// planned sends that outrank the message add to the usage (0 for a counter).
#define SENDGATE_COUNTED_SLOTS(X) \
  X(kUsed, USED)                  \
  X(kRoom, ROOM)                  \
  X(kPlanned, PLANNED)

// X(C++ name, Lua name): a preference rule's verdict in decide.lua's reply (RuleVerdict).
#define SENDGATE_VERDICT_SLOTS(X) \
  X(kCode, CODE)                  \
  X(kAt, AT)                      \
  X(kUsed, USED)                  \
  X(kLimit, LIMIT)                \
  X(kDetail, DETAIL)

// X(C++ name, Lua name, width): a contact's stored preferences, sg:{<contact>}:p (and a
// suppression entry, in the same form): this head, then its subscription choices, blocks and
// frequencies, then the profile (time zone: length byte and name; segments: count byte, then
// each as length byte and name), PROFILE_BYTES long.
#define SENDGATE_PREFERENCE_HEAD(X)           \
  X(kFormat, FORMAT, 1)                       \
  X(kFlags, FLAGS, 1)                         \
  X(kVersion, VERSION, 6)                     \
  X(kPauseUntil, PAUSE_UNTIL, 6)              \
  X(kTimezoneFingerprint, TZ_FP, 4)           \
  X(kSegmentsFingerprint, SEGMENTS_FP, 4)     \
  X(kSubscriptionCount, SUBSCRIPTION_COUNT, 1) \
  X(kBlockCount, BLOCK_COUNT, 1)              \
  X(kFrequencyCount, FREQUENCY_COUNT, 1)      \
  X(kProfileBytes, PROFILE_BYTES, 2)
#define SENDGATE_PREFERENCE_SUBSCRIPTION(X) \
  X(kSubscription, SUBSCRIPTION, 2)         \
  X(kChannel, CHANNEL, 2)                   \
  X(kOptedIn, OPTED_IN, 1)
#define SENDGATE_PREFERENCE_BLOCK(X) \
  X(kChannel, CHANNEL, 2)            \
  X(kReason, REASON, 1)
// Format 2 (PREFERENCE_FORMAT) adds, after the profile, the pauses of single channels: a count
// byte, then each as SENDGATE_PREFERENCE_CHANNEL_PAUSE. Format 1, written before 2026-12, has
// none and is read as such.
#define SENDGATE_PREFERENCE_CHANNEL_PAUSE(X) \
  X(kChannel, CHANNEL, 2)                    \
  X(kUntil, UNTIL, 6)
#define SENDGATE_PREFERENCE_FREQUENCY(X) \
  X(kChannel, CHANNEL, 2)                \
  X(kLimit, LIMIT, 2)                    \
  X(kWindowKind, WINDOW_KIND, 1)         \
  X(kWindowLength, WINDOW_LENGTH, 6)

// X(C++ name, Lua name): the KEYS of decide.lua and cancel.lua, in order. PLANNED: the
// contact's planned sends. V1_MAIN and
// V1_EXEMPT: where a version before editions kept the two histories, in the layout of
// kV1RecordBytes; the scripts move what they find there to MAIN and EXEMPT.
#define SENDGATE_KEYS(X)   \
  X(kMain, MAIN)           \
  X(kExempt, EXEMPT)       \
  X(kPreferences, PREFERENCES) \
  X(kSuppression, SUPPRESSION) \
  X(kV1Main, V1_MAIN)      \
  X(kV1Exempt, V1_EXEMPT)  \
  X(kPlanned, PLANNED)

// X(C++ name, Lua name): the ARGV of decide.lua, in order.
#define SENDGATE_DECIDE_ARGS(X)         \
  X(kPlan, PLAN)                        \
  X(kSuppressionHash, SUPPRESSION_HASH) \
  X(kCapScopes, CAP_SCOPES)             \
  X(kShadowPlan, SHADOW_PLAN)           \
  X(kShadowCapScopes, SHADOW_CAP_SCOPES)

// X(C++ name, Lua name): the ARGV of plan.lua, in order; after them, each change as two
// arguments: 1 to plan (0 to withdraw), and the planned send (SENDGATE_PLANNED_FIELDS).
#define SENDGATE_PLAN_SENDS_ARGS(X) \
  X(kNow, NOW)                      \
  X(kGrace, GRACE)

// X(C++ name, Lua name): the ARGV of cancel.lua, in order.
#define SENDGATE_CANCEL_ARGS(X) \
  X(kHashLow, HASH_LOW)         \
  X(kHashHigh, HASH_HIGH)

// X(C++ name, Lua name): the ARGV of capacity_take.lua (KEYS: the counter), in order.
#define SENDGATE_CAPACITY_TAKE_ARGS(X) \
  X(kLimit, LIMIT)                     \
  X(kEnd, END)                         \
  X(kNow, NOW)

#define SENDGATE_ENUM_ENTRY(name, ...) name,
enum class RecordField { SENDGATE_RECORD_FIELDS(SENDGATE_ENUM_ENTRY) kCount };
enum class PlanSlot { SENDGATE_PLAN_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class CapSlot { SENDGATE_CAP_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class ScopeSlot { SENDGATE_SCOPE_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class CapacitySlot { SENDGATE_CAPACITY_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class CountedSlot { SENDGATE_COUNTED_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class PlannedField { SENDGATE_PLANNED_FIELDS(SENDGATE_ENUM_ENTRY) kCount };
enum class PlanSendsArg { SENDGATE_PLAN_SENDS_ARGS(SENDGATE_ENUM_ENTRY) kCount };
enum class ReplySlot { SENDGATE_REPLY_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class Key { SENDGATE_KEYS(SENDGATE_ENUM_ENTRY) kCount };
enum class DecideArg { SENDGATE_DECIDE_ARGS(SENDGATE_ENUM_ENTRY) kCount };
enum class VerdictSlot { SENDGATE_VERDICT_SLOTS(SENDGATE_ENUM_ENTRY) kCount };
enum class PreferenceHead { SENDGATE_PREFERENCE_HEAD(SENDGATE_ENUM_ENTRY) kCount };
enum class PreferenceSubscription { SENDGATE_PREFERENCE_SUBSCRIPTION(SENDGATE_ENUM_ENTRY) kCount };
enum class PreferenceBlock { SENDGATE_PREFERENCE_BLOCK(SENDGATE_ENUM_ENTRY) kCount };
enum class PreferenceFrequency { SENDGATE_PREFERENCE_FREQUENCY(SENDGATE_ENUM_ENTRY) kCount };
enum class PreferenceChannelPause {
  SENDGATE_PREFERENCE_CHANNEL_PAUSE(SENDGATE_ENUM_ENTRY) kCount
};
enum class CancelArg { SENDGATE_CANCEL_ARGS(SENDGATE_ENUM_ENTRY) kCount };
enum class CapacityTakeArg { SENDGATE_CAPACITY_TAKE_ARGS(SENDGATE_ENUM_ENTRY) kCount };
#undef SENDGATE_ENUM_ENTRY
#define SENDGATE_OUTCOME_ENTRY(name, lua, value) name = value,
enum class Outcome { SENDGATE_OUTCOMES(SENDGATE_OUTCOME_ENTRY) };
#undef SENDGATE_OUTCOME_ENTRY

// The widths of a layout's fields, in order, and where a field starts (from 0).
template <size_t N>
struct Layout {
  std::array<int, N> bytes;
  template <typename Field>
  constexpr int Offset(Field field) const {
    int offset = 0;
    for (int i = 0; i < static_cast<int>(field); ++i) offset += bytes[i];
    return offset;
  }
  constexpr int size() const {
    int total = 0;
    for (int width : bytes) total += width;
    return total;
  }
};
#define SENDGATE_WIDTH_ENTRY(name, lua, bytes) bytes,
inline constexpr Layout<static_cast<int>(RecordField::kCount)> kRecord{
    {SENDGATE_RECORD_FIELDS(SENDGATE_WIDTH_ENTRY)}};
inline constexpr Layout<static_cast<int>(PlannedField::kCount)> kPlannedSend{
    {SENDGATE_PLANNED_FIELDS(SENDGATE_WIDTH_ENTRY)}};
inline constexpr Layout<static_cast<int>(PreferenceHead::kCount)> kPreferenceHead{
    {SENDGATE_PREFERENCE_HEAD(SENDGATE_WIDTH_ENTRY)}};
inline constexpr Layout<static_cast<int>(PreferenceSubscription::kCount)> kPreferenceSubscription{
    {SENDGATE_PREFERENCE_SUBSCRIPTION(SENDGATE_WIDTH_ENTRY)}};
inline constexpr Layout<static_cast<int>(PreferenceBlock::kCount)> kPreferenceBlock{
    {SENDGATE_PREFERENCE_BLOCK(SENDGATE_WIDTH_ENTRY)}};
inline constexpr Layout<static_cast<int>(PreferenceFrequency::kCount)> kPreferenceFrequency{
    {SENDGATE_PREFERENCE_FREQUENCY(SENDGATE_WIDTH_ENTRY)}};
inline constexpr Layout<static_cast<int>(PreferenceChannelPause::kCount)>
    kPreferenceChannelPause{{SENDGATE_PREFERENCE_CHANNEL_PAUSE(SENDGATE_WIDTH_ENTRY)}};
#undef SENDGATE_WIDTH_ENTRY
inline constexpr std::array<int, static_cast<int>(RecordField::kCount)> kFieldBytes = kRecord.bytes;

constexpr int Offset(RecordField field) { return kRecord.Offset(field); }
inline constexpr int kRecordBytes = kRecord.size();

// The stored preferences' format (FORMAT) and flag bits (FLAGS); the format before channel
// pauses is still read.
inline constexpr int kPreferenceFormat = 2;
inline constexpr int kPreferenceFormatBeforeChannelPauses = 1;
inline constexpr int kFlagOptOut = 1;
inline constexpr int kFlagSuppressed = 2;

// The ids are stored in core::Field order, so a match's field number picks its id.
static_assert(static_cast<int>(RecordField::kEdition) - static_cast<int>(RecordField::kChannel) ==
              core::kFieldCount - 1);
static_assert(static_cast<int>(PlanSlot::kEdition) - static_cast<int>(PlanSlot::kChannel) ==
              core::kFieldCount - 1);
static_assert(static_cast<int>(PlannedField::kEdition) -
                  static_cast<int>(PlannedField::kChannel) ==
              core::kFieldCount - 1);

// The layout before editions (versions up to 2026-11): the same fields without EDITION. Such a
// record becomes one of today's with EDITION 0 (no edition) inserted at its offset.
inline constexpr int kEditionOffset = Offset(RecordField::kEdition);
inline constexpr int kEditionBytes = kFieldBytes[static_cast<int>(RecordField::kEdition)];
inline constexpr int kV1RecordBytes = kRecordBytes - kEditionBytes;

// Room sentinels in a cap's (used, room) pair: room now, or never (a message heavier than the
// limit). Any other room is an instant in milliseconds.
inline constexpr int64_t kRoomNow = 0;
inline constexpr int64_t kNever = -1;
// An infinite instant in the plan: Lua numbers are doubles, so 2^53 and not int64's maximum.
inline constexpr int64_t kInfiniteMillis = int64_t{1} << 53;

// decide.lua's plan (ARGV PLAN and SHADOW_PLAN) is a string of numbers, each a little-endian
// IEEE 754 double: the struct library's format kPlanNumberFormat, kPlanNumberBytes bytes.
// Every number of a plan is an integer within 2^53, which a double holds exactly.
inline constexpr char kPlanNumberFormat[] = "d";
inline constexpr int kPlanNumberBytes = 8;

// A capacity counter lives this long past the end of its interval, so that an instance whose
// clock is a little behind does not find it gone and start it again.
inline constexpr int64_t kCapacityLingerMillis = 60000;

// A list shorter than this many records is written whole with SET (exact allocation); a longer
// one is appended to (docs/redis.md, "The life of a list").
inline constexpr int kSetUpTo = 64;

// X(Lua name, value): every bound, sentinel and code a script needs.
#define SENDGATE_BOUNDS(X)                                 \
  X(PREFERENCE_FORMAT, kPreferenceFormat)                  \
  X(PREFERENCE_FORMAT_1, kPreferenceFormatBeforeChannelPauses) \
  X(PAUSE_OF_CHANNEL, static_cast<int>(core::kPauseOfChannel)) \
  X(FLAG_OPT_OUT, kFlagOptOut)                             \
  X(FLAG_SUPPRESSED, kFlagSuppressed)                      \
  X(REASON_CAP_REACHED, static_cast<int>(core::ReasonCode::kCapReached)) \
  X(REASON_CAPACITY, static_cast<int>(core::ReasonCode::kCapacity))       \
  X(REASON_UNSUBSCRIBED, static_cast<int>(core::ReasonCode::kUnsubscribed)) \
  X(REASON_NOT_OPTED_IN, static_cast<int>(core::ReasonCode::kNotOptedIn)) \
  X(REASON_OPTED_OUT, static_cast<int>(core::ReasonCode::kOptedOut))    \
  X(REASON_CHANNEL_BLOCKED, static_cast<int>(core::ReasonCode::kChannelBlocked)) \
  X(REASON_SUPPRESSED, static_cast<int>(core::ReasonCode::kSuppressed)) \
  X(REASON_PAUSED, static_cast<int>(core::ReasonCode::kPaused))         \
  X(REASON_CONTACT_FREQUENCY, static_cast<int>(core::ReasonCode::kContactFrequency)) \
  X(BLOCK_HARD_BOUNCE, static_cast<int>(core::BlockReason::kHardBounce)) \
  X(BLOCK_COMPLAINT, static_cast<int>(core::BlockReason::kComplaint))   \
  X(WINDOW_ROLLING, static_cast<int>(core::WindowKind::kRolling))       \
  X(WINDOW_DAY, static_cast<int>(core::WindowKind::kDay))               \
  X(WINDOW_WEEK, static_cast<int>(core::WindowKind::kWeek))             \
  X(WINDOW_MONTH, static_cast<int>(core::WindowKind::kMonth))           \
  X(MAX_COUNTED, core::kMaxCountedRecords)                 \
  X(COUNTED_FLOOR, core::kCountedFloor)                    \
  X(MAX_DENIED, core::kMaxDeniedRecords)                   \
  X(MAX_PLANNED, core::kMaxPlannedSends)                   \
  X(DENIED_FLOOR, core::kDeniedFloor)                      \
  X(EXEMPT_REPLAY_DEPTH, core::kExemptReplayDepth)         \
  X(SET_UP_TO, kSetUpTo)                                   \
  X(CAPACITY_LINGER, kCapacityLingerMillis)                \
  X(EDITION_BYTES, kEditionBytes)                          \
  X(V1_RECORD_BYTES, kV1RecordBytes)                       \
  X(ROOM_NOW, kRoomNow)                                    \
  X(NEVER, kNever)

}  // namespace sendgate::store::contract
