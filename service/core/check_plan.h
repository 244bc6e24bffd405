// The contract between core and the store for one decision: core compiles a message into a
// CheckPlan (absolute windows, effective limits, what to match); the store evaluates it
// atomically against the contact's history, records the send when every cap has room, and
// answers a CheckResult. The store knows nothing of the policy.
#pragma once

#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "service/core/policy.h"
#include "service/core/send_record.h"
#include "service/core/window.h"

namespace sendgate::core {

// Reason codes, numbered as sendgate.v1.Reason.Code (service/api/proto_conversion.cc checks
// each against the proto at compile time).
enum class ReasonCode : uint8_t {
  kCapReached = 1,
  kExpired = 2,
  kStoreUnavailable = 3,
  kInvalidRequest = 4,
  kUnsubscribed = 5,
  kNotOptedIn = 6,
  kOptedOut = 7,
  kChannelBlocked = 8,
  kSuppressed = 9,
  kPaused = 10,
  kContactFrequency = 11,
  kQuietHours = 12,
  kLowerPriority = 13,
  kCapacity = 14,
  kNotPermitted = 15,
};

// A counted record matches when its id for `field` is one of `ids`.
struct FieldMatch {
  Field field;
  std::vector<uint32_t> ids;
};

// One cap to check: counted records matching every FieldMatch with start <= at < end.
struct CapCheck {
  int cap = 0;  // index into Policy::caps, for reasons
  // Whether the cap counts sends of categories exempt from caps (it names one), which the
  // history keeps apart (see History).
  bool counts_exempt = false;
  absl::Time start;
  absl::Time end;
  absl::Duration slide;  // see WindowBounds
  int64_t limit = 0;     // what this message may fill: the contact's limit less `reserved`
  int64_t reserved = 0;  // kept for messages of higher priority (Cap::reserves)
  std::vector<FieldMatch> match;
};

// One capacity counter (Policy::capacity): the contact's shard of a rule, in the interval that
// holds the send. The store counts the message on it when it allows the message.
struct CapacityCheck {
  int rule = 0;  // index into Policy::capacity, for reasons
  // The counter's name, one per rule, shard and interval: "<rule id>:<shard>:<start ms>".
  std::string counter;
  absl::Time end;     // when the interval ends, and the counter with it
  int64_t limit = 0;  // the shard's share
};

// The preference rules of one message; the contact's choices are in the store, next to its
// history, and are read in the same atomic call.
struct PreferenceCheck {
  uint32_t channel = 0;
  uint32_t subscription = 0;  // 0: the message has none
  bool opt_in = false;        // the subscription's regime is opt-in
  Exemptions exempt;          // the message's category's
  // The stored profile the plan was made with, when the request left it out: the store
  // answers kProfileChanged when the contact's differs. Empty: the request gave it.
  std::optional<uint32_t> timezone_fingerprint;
  std::optional<uint32_t> segments_fingerprint;
  // What a contact's own frequency on the channel counts: sends of these categories (those
  // not exempt from it), in the exempt list too when one of them is exempt from caps.
  std::vector<uint32_t> frequency_categories;
  bool frequency_counts_exempt = false;
  // The calendar windows around the send, in the time zone the plan was made with.
  WindowBounds day, week, month;
  // The contact id's keyed hash (hex) in the suppression list; "" when no key is configured.
  std::string suppression_hash;
};

// What the store checks and records for one message, atomically: the replay lookup, then each
// rule on the contact's stored state in order (opt-outs, consent, pause, caps, the contact's
// own frequency), then the record of the send or of its denial.
struct CheckPlan {
  std::string contact_id;
  // Recorded as is when allowed; with denied_code = deny_code when denied. Its `at` is when the
  // message can go out: max(send_at, now), never in the past (a backdated request must not
  // land outside the windows that count it).
  SendRecord send;
  // The message's category is exempt from caps: an allowed send goes to History::exempt.
  bool exempt = false;
  std::vector<CapCheck> caps;
  PreferenceCheck preferences;
  // The capacity counters the message takes room on.
  std::vector<CapacityCheck> capacity;
  // Room found later than this is no use: the decision is DENY, not DEFER.
  absl::Time deny_after;
  // Records older than this can no longer count: a rewrite drops them.
  absl::Time keep_after;
  // A list is rewritten (trimmed) when its first record is older than this, some time before
  // keep_after, so that trimming happens in chunks and most writes are appends.
  absl::Time trim_before;
  // The history keys expire `retention` after their latest record.
  absl::Duration retention;
  // A planned send not decided this long after its planned time is forgotten (Policy::plan_grace).
  absl::Duration planned_grace = absl::Hours(6);
  absl::Time now;
  // Evaluate only: nothing is written (the store calls a read-only function).
  bool dry_run = false;
  // Quiet hours: the message cannot go out before this instant, and the plan checks the
  // contact's state as it will be then, as a dry run (InfinitePast: it can go out now).
  absl::Time opens_at = absl::InfinitePast();
  // Shadow mode: the candidate policy's plan for the same message, evaluated on the same
  // stored state in the same call, never recorded (null: no candidate, or it needs no store).
  std::shared_ptr<const CheckPlan> shadow;
};

enum class CheckOutcome {
  kAllowed,        // every cap had room; the send is recorded
  kDeferred,       // a cap is full; room frees up at retry_at, before deny_after
  kDenied,         // a cap is full until after deny_after (or forever); the denial is recorded
  kReplayAllowed,  // the message_id was counted before
  kReplayDenied,   // the message_id was denied before
  // The contact's stored profile (time zone, segments) is not the one the plan was made with,
  // and the request left it out: plan again with `profile`; nothing was written.
  kProfileChanged,
};

struct CapResult {
  int64_t used = 0;  // weight units already counted in the window
  // Weight units the planned sends that outrank the message add to `used` (look-ahead).
  int64_t planned = 0;
  // When the cap has room for the message; InfinitePast when it has room now,
  // InfiniteFuture when it never will (the message weighs more than the limit).
  absl::Time room_at = absl::InfinitePast();

  bool full() const { return room_at != absl::InfinitePast(); }
};

// A preference rule that holds the message back: when it may go (InfiniteFuture: never), and
// for the contact's own frequency its usage and limit.
struct RuleVerdict {
  ReasonCode code = ReasonCode::kOptedOut;
  absl::Time at = absl::InfiniteFuture();
  int64_t used = 0;
  int64_t limit = 0;
  uint8_t detail = 0;  // kChannelBlocked: the BlockReason
  friend bool operator==(const RuleVerdict&, const RuleVerdict&) = default;
};

struct StoredProfile {
  std::string timezone;
  std::vector<std::string> segments;
};

struct CheckResult {
  CheckOutcome outcome = CheckOutcome::kAllowed;
  std::vector<CapResult> caps;  // one per CheckPlan::caps, when evaluated
  // One per CheckPlan::capacity, when evaluated: the counter's value, and room at the end of
  // its interval when it is full.
  std::vector<CapResult> capacity;
  std::vector<RuleVerdict> verdicts;  // the preference rules that hold the message back
  StoredProfile profile;              // kProfileChanged
  absl::Time retry_at = absl::InfiniteFuture();  // kDeferred, kDenied: the latest room_at
  absl::Time replay_at;         // replays: when the first decision was made
  uint8_t replay_code = 0;      // kReplayDenied: the first decision's reason code
  uint8_t deny_code = 0;        // kDenied: the code recorded with the denial
  // The answer to CheckPlan::shadow, evaluated before this one's record (null for a replay, a
  // changed profile, or a plan without shadow).
  std::shared_ptr<const CheckResult> shadow;
};

}  // namespace sendgate::core
