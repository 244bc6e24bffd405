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

std::string MainHistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:h2");
}

std::string ExemptHistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:e2");
}

std::string V1MainHistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:h");
}

std::string V1ExemptHistoryKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:e");
}

std::string PreferencesKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:p");
}

std::string PlannedKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:l");
}

std::string ConsentTrailKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", contact_id, "}:a");
}

std::string SuppressionKey(absl::string_view contact_id) {
  return absl::StrCat("sg:{", TagOfSlot(SlotOf(MainHistoryKey(contact_id))), "}:suppressed");
}

std::string CapacityKey(absl::string_view counter) {
  const size_t last = counter.rfind(':');
  return absl::StrCat("sg:{capacity:", counter.substr(0, last), "}:", counter.substr(last + 1));
}

std::vector<std::string> ContactKeys(absl::string_view contact_id) {
  std::vector<std::string> keys(static_cast<int>(contract::Key::kCount));
  keys[static_cast<int>(contract::Key::kMain)] = MainHistoryKey(contact_id);
  keys[static_cast<int>(contract::Key::kExempt)] = ExemptHistoryKey(contact_id);
  keys[static_cast<int>(contract::Key::kPreferences)] = PreferencesKey(contact_id);
  keys[static_cast<int>(contract::Key::kSuppression)] = SuppressionKey(contact_id);
  keys[static_cast<int>(contract::Key::kV1Main)] = V1MainHistoryKey(contact_id);
  keys[static_cast<int>(contract::Key::kV1Exempt)] = V1ExemptHistoryKey(contact_id);
  keys[static_cast<int>(contract::Key::kPlanned)] = PlannedKey(contact_id);
  return keys;
}

namespace {

// `numbers` as the plan's bytes: each a little-endian IEEE double, exact for every integer
// of the plan (all within 2^53), which decide.lua reads with one struct.unpack (cjson.decode
// of the same numbers as text cost a tenth of the script's work: strtod per number).
std::string PlanBytes(absl::Span<const int64_t> numbers) {
  static_assert(contract::kPlanNumberBytes == sizeof(double));
  std::string bytes(numbers.size() * sizeof(double), '\0');
  char* out = bytes.data();
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
  return bytes;
}

}  // namespace

std::string PlanArgument(const CheckPlan& plan, int first_counter_key,
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

  absl::InlinedVector<int64_t, 128> numbers(head.begin(), head.end());
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
  return PlanBytes(numbers);
}

std::string CapScopesArgument(const CheckPlan& plan) {
  absl::InlinedVector<int64_t, 128> numbers;
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
  return PlanBytes(numbers);
}

std::vector<std::string> DecideKeys(const CheckPlan& plan) {
  std::vector<std::string> keys = ContactKeys(plan.contact_id);
  for (const CheckPlan* each : {&plan, plan.shadow.get()}) {
    if (each == nullptr) continue;
    for (const core::CapacityCheck& check : each->capacity) {
      keys.push_back(CapacityKey(check.counter));
    }
  }
  return keys;
}

std::string DecideCommand(const CheckPlan& plan, const CountersBefore* before,
                          absl::string_view function) {
  const std::vector<std::string> keys =
      before != nullptr ? ContactKeys(plan.contact_id) : DecideKeys(plan);
  const std::string plan_argument =
      PlanArgument(plan, kFirstCounterKey, before != nullptr ? &before->plan : nullptr);
  absl::string_view args[static_cast<int>(contract::DecideArg::kCount)];
  args[static_cast<int>(contract::DecideArg::kPlan)] = plan_argument;
  args[static_cast<int>(contract::DecideArg::kSuppressionHash)] =
      plan.preferences.suppression_hash;
  const std::string cap_scopes = CapScopesArgument(plan);
  args[static_cast<int>(contract::DecideArg::kCapScopes)] = cap_scopes;
  std::string shadow_argument;
  std::string shadow_cap_scopes;
  size_t count = static_cast<size_t>(contract::DecideArg::kShadowPlan);
  if (plan.shadow != nullptr) {
    shadow_argument =
        PlanArgument(*plan.shadow, kFirstCounterKey + static_cast<int>(plan.capacity.size()),
                     before != nullptr ? &before->shadow : nullptr);
    shadow_cap_scopes = CapScopesArgument(*plan.shadow);
    args[static_cast<int>(contract::DecideArg::kShadowPlan)] = shadow_argument;
    args[static_cast<int>(contract::DecideArg::kShadowCapScopes)] = shadow_cap_scopes;
    count = static_cast<size_t>(contract::DecideArg::kCount);
  }
  const absl::InlinedVector<absl::string_view, 8> key_views(keys.begin(), keys.end());
  if (function.empty()) function = plan.dry_run ? kDecideDryRunFunction : kDecideFunction;
  return FormatFcall(function, key_views, absl::MakeConstSpan(args, count));
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
