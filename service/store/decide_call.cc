#include "service/store/decide_call.h"

#include <hiredis/hiredis.h>

#include <array>
#include <bit>
#include <cstring>

#include "absl/base/casts.h"
#include "absl/container/inlined_vector.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/store/preferences_codec.h"
#include "service/store/script_contract.h"
#include "service/store/slots.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

using core::CheckOutcome;
using core::CheckPlan;
using core::CheckResult;
using contract::CapSlot;
using contract::PlanSlot;
using contract::ScopeSlot;
using contract::ReplySlot;

int64_t Millis(absl::Time time) {
  if (time == absl::InfiniteFuture()) return contract::kInfiniteMillis;
  if (time == absl::InfinitePast()) return -contract::kInfiniteMillis;
  return absl::ToUnixMillis(time);
}

absl::Status Malformed(absl::string_view what) {
  return StoreError(StoreErrorKind::kMalformedReply,
                    absl::StrCat("decide.lua answered a malformed reply: ", what));
}

// A cap's room from the reply: ROOM_NOW, NEVER, or an instant (positive ms).
absl::StatusOr<absl::Time> Room(int64_t millis) {
  if (millis == contract::kRoomNow) return absl::InfinitePast();
  if (millis == contract::kNever) return absl::InfiniteFuture();
  if (millis < 0) return Malformed(absl::StrCat("a room of ", millis));
  return absl::FromUnixMillis(millis);
}

// The integers of an array reply, or why it is not one.
using Values = absl::InlinedVector<int64_t, 32>;

absl::StatusOr<Values> Integers(const redisReply* reply) {
  if (reply->type != REDIS_REPLY_ARRAY) return Malformed("not an array");
  Values values;
  for (size_t i = 0; i < reply->elements; ++i) {
    if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
      return Malformed(absl::StrCat("element ", i + 1, " is not an integer"));
    }
    values.push_back(reply->element[i]->integer);
  }
  return values;
}

}  // namespace

namespace {

// A contact's keys, by contract::Key: "sg:{<contact id>" and this end. The suppression list
// is named by its slot's tag instead (SuppressionKey).
constexpr std::array<absl::string_view, static_cast<int>(contract::Key::kCount)> kContactKeyEnds =
    {"}:h2", "}:e2", "}:p", "", "}:h", "}:e", "}:l"};
static_assert(static_cast<int>(contract::Key::kMain) == 0 &&
              static_cast<int>(contract::Key::kExempt) == 1 &&
              static_cast<int>(contract::Key::kPreferences) == 2 &&
              static_cast<int>(contract::Key::kSuppression) == 3 &&
              static_cast<int>(contract::Key::kV1Main) == 4 &&
              static_cast<int>(contract::Key::kV1Exempt) == 5 &&
              static_cast<int>(contract::Key::kPlanned) == 6);

std::string ContactKey(contract::Key key, absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, kContactKeyEnds[static_cast<int>(key)]);
}

}  // namespace

std::string MainHistoryKey(absl::string_view contact_id) {
  return ContactKey(contract::Key::kMain, contact_id);
}

std::string ExemptHistoryKey(absl::string_view contact_id) {
  return ContactKey(contract::Key::kExempt, contact_id);
}

std::string V1MainHistoryKey(absl::string_view contact_id) {
  return ContactKey(contract::Key::kV1Main, contact_id);
}

std::string V1ExemptHistoryKey(absl::string_view contact_id) {
  return ContactKey(contract::Key::kV1Exempt, contact_id);
}

std::string PreferencesKey(absl::string_view contact_id) {
  return ContactKey(contract::Key::kPreferences, contact_id);
}

std::string PlannedKey(absl::string_view contact_id) {
  return ContactKey(contract::Key::kPlanned, contact_id);
}

std::string ConsentTrailKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:a");
}

namespace {

constexpr absl::string_view kSuppressionKeyEnd = "}:suppressed";

// The suppression list's key for the contact whose main history key is `main_key`.
std::string SuppressionKeyOf(absl::string_view main_key) {
  return absl::StrCat("sg:{", TagOfSlot(SlotOf(main_key)), kSuppressionKeyEnd);
}

}  // namespace

std::string SuppressionKey(absl::string_view contact_id) {
  return SuppressionKeyOf(MainHistoryKey(contact_id));
}

std::string CapacityKey(absl::string_view counter) {
  const size_t last = counter.rfind(':');
  return absl::StrCat("sg:{capacity:", counter.substr(0, last), "}:", counter.substr(last + 1));
}

std::vector<std::string> ContactKeys(absl::string_view contact_id) {
  std::vector<std::string> keys(static_cast<int>(contract::Key::kCount));
  for (int key = 0; key < static_cast<int>(contract::Key::kCount); ++key) {
    keys[key] = key == static_cast<int>(contract::Key::kSuppression)
                    ? SuppressionKeyOf(keys[static_cast<int>(contract::Key::kMain)])
                    : ContactKey(static_cast<contract::Key>(key), contact_id);
  }
  return keys;
}

namespace {

// A plan's numbers (PlanArgument) or its caps' scopes (CapScopesArgument), before packing.
using Numbers = absl::InlinedVector<int64_t, 128>;

// `numbers` packed at `out` (8 bytes each): each a little-endian IEEE double, exact for every
// integer of the plan (all within 2^53), which decide.lua reads with one struct.unpack
// (cjson.decode of the same numbers as text cost a tenth of the script's work: strtod per
// number).
void PackNumbers(const Numbers& numbers, char* out) {
  static_assert(contract::kPlanNumberBytes == sizeof(double));
  for (const int64_t number : numbers) {
    const double value = static_cast<double>(number);
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out, &value, sizeof(value));  // one store: a tenth of the loop's cost
      out += sizeof(value);
    } else {
      uint64_t bits = absl::bit_cast<uint64_t>(value);
      for (size_t i = 0; i < sizeof(bits); ++i, bits >>= 8) *out++ = static_cast<char>(bits & 0xff);
    }
  }
}

std::string Packed(const Numbers& numbers) {
  std::string bytes(numbers.size() * sizeof(double), '\0');
  PackNumbers(numbers, bytes.data());
  return bytes;
}

void AddPacked(CommandWriter& wire, const Numbers& numbers) {
  PackNumbers(numbers, wire.AddBytes(numbers.size() * sizeof(double)));
}

Numbers PlanNumbers(const CheckPlan& plan, int first_counter_key,
                    const std::vector<int64_t>* before) {
  const core::SendRecord& send = plan.send;
  std::array<int64_t, static_cast<int>(PlanSlot::kCount)> head{};
  auto set = [&head](PlanSlot slot, int64_t value) { head[static_cast<int>(slot)] = value; };
  set(PlanSlot::kSendAt, Millis(send.at));
  set(PlanSlot::kHashLow, static_cast<int64_t>(send.message_hash & 0xffffffff));
  set(PlanSlot::kHashHigh, static_cast<int64_t>(send.message_hash >> 32));
  for (int i = 0; i < core::kFieldCount; ++i) {
    set(static_cast<PlanSlot>(static_cast<int>(PlanSlot::kChannel) + i), send.ids[i]);
  }
  set(PlanSlot::kWeight, send.weight);
  set(PlanSlot::kPriority, send.priority);
  set(PlanSlot::kExempt, plan.exempt ? 1 : 0);
  set(PlanSlot::kDenyAfter, Millis(plan.deny_after));
  set(PlanSlot::kKeepAfter, Millis(plan.keep_after));
  set(PlanSlot::kTrimBefore, Millis(plan.trim_before));
  set(PlanSlot::kRetention, absl::ToInt64Milliseconds(plan.retention));
  set(PlanSlot::kNow, Millis(plan.now));
  const core::PreferenceCheck& preferences = plan.preferences;
  set(PlanSlot::kOptIn, preferences.opt_in ? 1 : 0);
  set(PlanSlot::kExemptOptOut, preferences.exempt.opt_out ? 1 : 0);
  set(PlanSlot::kExemptSubscriptions, preferences.exempt.subscriptions ? 1 : 0);
  set(PlanSlot::kExemptPause, preferences.exempt.pause ? 1 : 0);
  set(PlanSlot::kExemptFrequency, preferences.exempt.contact_frequency ? 1 : 0);
  set(PlanSlot::kTimezoneFingerprint,
      preferences.timezone_fingerprint ? int64_t{*preferences.timezone_fingerprint} : -1);
  set(PlanSlot::kSegmentsFingerprint,
      preferences.segments_fingerprint ? int64_t{*preferences.segments_fingerprint} : -1);
  set(PlanSlot::kDayStart, Millis(preferences.day.start));
  set(PlanSlot::kDayEnd, Millis(preferences.day.end));
  set(PlanSlot::kWeekStart, Millis(preferences.week.start));
  set(PlanSlot::kWeekEnd, Millis(preferences.week.end));
  set(PlanSlot::kMonthStart, Millis(preferences.month.start));
  set(PlanSlot::kMonthEnd, Millis(preferences.month.end));
  set(PlanSlot::kFrequencyCountsExempt, preferences.frequency_counts_exempt ? 1 : 0);
  set(PlanSlot::kPlannedGrace, absl::ToInt64Milliseconds(plan.planned_grace));
  set(PlanSlot::kCapCount, static_cast<int64_t>(plan.caps.size()));

  Numbers numbers(head.begin(), head.end());
  for (const core::CapCheck& cap : plan.caps) {
    std::array<int64_t, static_cast<int>(CapSlot::kCount)> slots{};
    slots[static_cast<int>(CapSlot::kStart)] = Millis(cap.start);
    slots[static_cast<int>(CapSlot::kEnd)] = Millis(cap.end);
    numbers.insert(numbers.end(), slots.begin(), slots.end());
  }
  numbers.push_back(static_cast<int64_t>(preferences.frequency_categories.size()));
  numbers.insert(numbers.end(), preferences.frequency_categories.begin(),
                 preferences.frequency_categories.end());
  numbers.push_back(static_cast<int64_t>(plan.capacity.size()));
  for (size_t i = 0; i < plan.capacity.size(); ++i) {
    std::array<int64_t, static_cast<int>(contract::CapacitySlot::kCount)> slots{};
    slots[static_cast<int>(contract::CapacitySlot::kKey)] =
        before != nullptr ? 0 : first_counter_key + static_cast<int>(i);
    slots[static_cast<int>(contract::CapacitySlot::kLimit)] = plan.capacity[i].limit;
    slots[static_cast<int>(contract::CapacitySlot::kEnd)] = Millis(plan.capacity[i].end);
    slots[static_cast<int>(contract::CapacitySlot::kUsed)] = before != nullptr ? (*before)[i] : 0;
    numbers.insert(numbers.end(), slots.begin(), slots.end());
  }
  return numbers;
}

Numbers ScopeNumbers(const CheckPlan& plan) {
  Numbers numbers;
  for (const core::CapCheck& cap : plan.caps) {
    std::array<int64_t, static_cast<int>(ScopeSlot::kCount)> slots{};
    slots[static_cast<int>(ScopeSlot::kSlide)] = absl::ToInt64Milliseconds(cap.slide);
    slots[static_cast<int>(ScopeSlot::kLimit)] = cap.limit;
    slots[static_cast<int>(ScopeSlot::kCountsExempt)] = cap.counts_exempt ? 1 : 0;
    slots[static_cast<int>(ScopeSlot::kMatchCount)] = static_cast<int64_t>(cap.match.size());
    numbers.insert(numbers.end(), slots.begin(), slots.end());
    for (const core::FieldMatch& match : cap.match) {
      numbers.push_back(static_cast<int>(match.field) + 1);
      numbers.push_back(static_cast<int64_t>(match.ids.size()));
      numbers.insert(numbers.end(), match.ids.begin(), match.ids.end());
    }
  }
  return numbers;
}

// The contact's keys (ContactKeys), each written from its parts.
void AddContactKeys(CommandWriter& wire, absl::string_view contact_id) {
  // The main history's key comes first (kContactKeyEnds), and its slot names the suppression
  // list's.
  const int slot = SlotOf(wire.Add({"sg:{", contact_id, kContactKeyEnds[0]}));
  for (int key = 1; key < static_cast<int>(contract::Key::kCount); ++key) {
    if (key == static_cast<int>(contract::Key::kSuppression)) {
      wire.Add({"sg:{", TagOfSlot(slot), kSuppressionKeyEnd});
    } else {
      wire.Add({"sg:{", contact_id, kContactKeyEnds[key]});
    }
  }
}

// The key of a capacity counter (CapacityKey), written from its parts.
void AddCapacityKey(CommandWriter& wire, absl::string_view counter) {
  const size_t last = counter.rfind(':');
  wire.Add({"sg:{capacity:", counter.substr(0, last), "}:", counter.substr(last + 1)});
}

}  // namespace

std::string PlanArgument(const CheckPlan& plan, int first_counter_key,
                         const std::vector<int64_t>* before) {
  return Packed(PlanNumbers(plan, first_counter_key, before));
}

std::string CapScopesArgument(const CheckPlan& plan) { return Packed(ScopeNumbers(plan)); }

// Written in one pass, each key from its parts and each plan's numbers packed in place: built
// apart, then joined by FormatFcall, the same command cost 9 400 instructions a decision
// (callgrind), a tenth of sendgate's work on one.
std::string DecideCommand(const CheckPlan& plan, const CountersBefore* before,
                          absl::string_view function) {
  if (function.empty()) function = plan.dry_run ? kDecideDryRunFunction : kDecideFunction;
  const CheckPlan* shadow = plan.shadow.get();
  const Numbers numbers =
      PlanNumbers(plan, kFirstCounterKey, before != nullptr ? &before->plan : nullptr);
  const Numbers scopes = ScopeNumbers(plan);
  Numbers shadow_numbers;
  Numbers shadow_scopes;
  if (shadow != nullptr) {
    shadow_numbers =
        PlanNumbers(*shadow, kFirstCounterKey + static_cast<int>(plan.capacity.size()),
                    before != nullptr ? &before->shadow : nullptr);
    shadow_scopes = ScopeNumbers(*shadow);
  }
  // Counters' keys only when the counters are read in the call (not given `before`).
  std::vector<const core::CapacityCheck*> counters;
  if (before == nullptr) {
    for (const CheckPlan* each : {&plan, shadow}) {
      if (each == nullptr) continue;
      for (const core::CapacityCheck& check : each->capacity) counters.push_back(&check);
    }
  }
  const size_t keys = static_cast<size_t>(contract::Key::kCount) + counters.size();
  const size_t args = static_cast<size_t>(shadow != nullptr ? contract::DecideArg::kCount
                                                            : contract::DecideArg::kShadowPlan);
  static_assert(static_cast<int>(contract::DecideArg::kPlan) == 0 &&
                static_cast<int>(contract::DecideArg::kSuppressionHash) == 1 &&
                static_cast<int>(contract::DecideArg::kCapScopes) == 2 &&
                static_cast<int>(contract::DecideArg::kShadowPlan) == 3 &&
                static_cast<int>(contract::DecideArg::kShadowCapScopes) == 4);
  size_t bytes = function.size() + keys * (plan.contact_id.size() + 16) +
                 plan.preferences.suppression_hash.size() +
                 sizeof(double) * (numbers.size() + scopes.size() + shadow_numbers.size() +
                                   shadow_scopes.size());
  for (const core::CapacityCheck* counter : counters) bytes += counter->counter.size();
  CommandWriter wire(3 + keys + args, bytes);
  wire.Add({"FCALL"});
  wire.Add({function});
  wire.Add({absl::AlphaNum(keys).Piece()});
  AddContactKeys(wire, plan.contact_id);
  for (const core::CapacityCheck* counter : counters) AddCapacityKey(wire, counter->counter);
  AddPacked(wire, numbers);
  wire.Add({plan.preferences.suppression_hash});
  AddPacked(wire, scopes);
  if (shadow != nullptr) {
    AddPacked(wire, shadow_numbers);
    AddPacked(wire, shadow_scopes);
  }
  return std::move(wire).Take();
}

absl::Status ReplyError(const redisReply* reply) {
  const absl::string_view text(reply->str, reply->len);
  struct Prefix {
    absl::string_view prefix;
    StoreErrorKind kind;
  };
  static constexpr Prefix kPrefixes[] = {
      {"LOADING", StoreErrorKind::kUnavailable},    {"BUSY", StoreErrorKind::kUnavailable},
      {"READONLY", StoreErrorKind::kUnavailable},   {"MASTERDOWN", StoreErrorKind::kUnavailable},
      {"OOM", StoreErrorKind::kOutOfMemory},        {"MOVED", StoreErrorKind::kRedirected},
      {"ASK", StoreErrorKind::kRedirected},         {"TRYAGAIN", StoreErrorKind::kUnavailable},
      {"CLUSTERDOWN", StoreErrorKind::kUnavailable},
  };
  for (const Prefix& each : kPrefixes) {
    if (absl::StartsWith(text, each.prefix)) {
      return StoreError(each.kind, absl::StrCat("Redis: ", text));
    }
  }
  return StoreError(StoreErrorKind::kRedisError, absl::StrCat("Redis: ", text));
}

namespace {

// PROFILE_CHANGED: the head, then the stored profile as a string.
absl::StatusOr<CheckResult> ProfileChanged(const redisReply* reply) {
  const size_t head = static_cast<size_t>(ReplySlot::kCount);
  if (reply->elements != head + 1 || reply->element[head]->type != REDIS_REPLY_STRING) {
    return Malformed("a profile change without the profile");
  }
  absl::StatusOr<core::StoredProfile> profile = DecodeProfile(
      absl::string_view(reply->element[head]->str, reply->element[head]->len));
  if (!profile.ok()) return profile.status();
  CheckResult result{.outcome = CheckOutcome::kProfileChanged};
  result.profile = std::move(*profile);
  return result;
}

// The verdicts after the caps: a count, then each as SENDGATE_VERDICT_SLOTS.
absl::Status ReadVerdicts(const Values& values, size_t from, CheckResult& result) {
  const size_t size = static_cast<size_t>(contract::VerdictSlot::kCount);
  if (from >= values.size()) return Malformed("no verdict count");
  const int64_t count = values[from];
  if (count < 0 || values.size() != from + 1 + size * static_cast<size_t>(count)) {
    return Malformed(absl::StrCat(count, " verdicts in ", values.size() - from - 1, " elements"));
  }
  for (int64_t i = 0; i < count; ++i) {
    auto at = [&](contract::VerdictSlot slot) {
      return values[from + 1 + i * size + static_cast<size_t>(slot)];
    };
    const int64_t code = at(contract::VerdictSlot::kCode);
    absl::StatusOr<absl::Time> when = Room(at(contract::VerdictSlot::kAt));
    if (!when.ok()) return when.status();
    if (code <= 0 || code > 255 || *when == absl::InfinitePast()) {
      return Malformed("a verdict without a code or an instant");
    }
    result.verdicts.push_back({.code = static_cast<core::ReasonCode>(code),
                               .at = *when,
                               .used = at(contract::VerdictSlot::kUsed),
                               .limit = at(contract::VerdictSlot::kLimit),
                               .detail = static_cast<uint8_t>(at(contract::VerdictSlot::kDetail))});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CheckResult> ParseDecideReply(const redisReply* reply, ReplyShape shape,
                                             std::optional<ReplyShape> shadow_shape) {
  if (reply->type == REDIS_REPLY_ERROR) return ReplyError(reply);
  // With a shadow plan, a decision is {the plan's reply, the shadow's reply}.
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->type == REDIS_REPLY_ARRAY) {
    if (!shadow_shape.has_value()) return Malformed("a shadow reply to a plan without shadow");
    absl::StatusOr<CheckResult> result = ParseDecideReply(reply->element[0], shape, std::nullopt);
    if (!result.ok()) return result;
    absl::StatusOr<CheckResult> shadow =
        ParseDecideReply(reply->element[1], *shadow_shape, std::nullopt);
    if (!shadow.ok()) return shadow.status();
    result->shadow = std::make_shared<const CheckResult>(std::move(*shadow));
    return result;
  }
  const size_t head = static_cast<size_t>(ReplySlot::kCount);
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
      reply->element[0]->type == REDIS_REPLY_INTEGER &&
      reply->element[0]->integer == static_cast<int64_t>(contract::Outcome::kProfileChanged)) {
    return ProfileChanged(reply);
  }
  absl::StatusOr<Values> values = Integers(reply);
  if (!values.ok()) return values.status();
  if (values->size() < head) return Malformed("too short");
  auto at = [&](ReplySlot slot) { return (*values)[static_cast<int>(slot)]; };
  CheckResult result;
  switch (static_cast<contract::Outcome>(at(ReplySlot::kOutcome))) {
    case contract::Outcome::kReplayAllowed:
    case contract::Outcome::kReplayDenied:
      if (values->size() != head || at(ReplySlot::kAt) <= 0) return Malformed("a bad replay");
      result.outcome = at(ReplySlot::kOutcome) ==
                               static_cast<int64_t>(contract::Outcome::kReplayAllowed)
                           ? CheckOutcome::kReplayAllowed
                           : CheckOutcome::kReplayDenied;
      result.replay_at = absl::FromUnixMillis(at(ReplySlot::kAt));
      result.replay_code = static_cast<uint8_t>(at(ReplySlot::kCode));
      return result;
    case contract::Outcome::kAllowed: result.outcome = CheckOutcome::kAllowed; break;
    case contract::Outcome::kDeferred: result.outcome = CheckOutcome::kDeferred; break;
    case contract::Outcome::kDenied: result.outcome = CheckOutcome::kDenied; break;
    default: return Malformed(absl::StrCat("an unknown outcome ", at(ReplySlot::kOutcome)));
  }
  const size_t counted = shape.caps + shape.capacity;
  const size_t size = static_cast<size_t>(contract::CountedSlot::kCount);
  if (values->size() < head + size * counted) {
    return Malformed(absl::StrCat(values->size(), " elements for ", shape.caps, " caps and ",
                                  shape.capacity, " capacity counters"));
  }
  bool held = false;
  for (size_t i = 0; i < counted; ++i) {
    auto slot = [&](contract::CountedSlot slot) {
      return (*values)[head + size * i + static_cast<size_t>(slot)];
    };
    absl::StatusOr<absl::Time> room = Room(slot(contract::CountedSlot::kRoom));
    if (!room.ok()) return room.status();
    const int64_t used = slot(contract::CountedSlot::kUsed);
    const int64_t planned = slot(contract::CountedSlot::kPlanned);
    if (used < 0 || planned < 0) return Malformed(absl::StrCat("a usage of ", used, "+", planned));
    std::vector<core::CapResult>& list = i < shape.caps ? result.caps : result.capacity;
    list.push_back({.used = used, .planned = planned, .room_at = *room});
    held = held || list.back().full();
  }
  if (absl::Status verdicts = ReadVerdicts(*values, head + size * counted, result);
      !verdicts.ok()) {
    return verdicts;
  }
  held = held || !result.verdicts.empty();
  if (result.outcome == CheckOutcome::kAllowed) {
    if (held) return Malformed("allowed while a rule holds the message back");
    return result;
  }
  absl::StatusOr<absl::Time> retry = Room(at(ReplySlot::kAt));
  if (!retry.ok()) return retry.status();
  if (*retry == absl::InfinitePast() || !held) return Malformed("held back by no rule");
  result.retry_at = *retry;
  if (result.outcome == CheckOutcome::kDenied) {
    result.deny_code = static_cast<uint8_t>(at(ReplySlot::kCode));
    if (result.deny_code == 0) return Malformed("a denial without a code");
  }
  return result;
}

}  // namespace sendgate::store
