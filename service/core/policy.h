// The company's pressure policy, compiled and validated (service/policy builds it from YAML).
// Immutable once built: the server shares one snapshot between all requests and swaps it whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "service/core/quiet_hours.h"
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/core/send_record.h"
#include "service/core/window.h"

namespace sendgate::core {

// What a decision falls back to when Redis cannot be asked in time.
enum class FailMode { kAllow, kDeny, kDefer };

struct Channel {
  std::string name;
  uint32_t id = 0;  // FieldId(Field::kChannel, name)
};

// Opt-in: no recorded choice means no. Opt-out: no recorded choice means yes.
enum class Regime { kOptIn, kOptOut };

struct Subscription {
  std::string name;
  uint32_t id = 0;
  Regime regime = Regime::kOptOut;
  std::vector<uint32_t> channels;  // the channel ids it covers; empty = every channel

  bool Covers(uint32_t channel) const;
};

// A relationship program (onboarding, abandoned cart, birthday ...): what its messages get
// when their request leaves it out.
struct Program {
  std::string name;
  uint32_t id = 0;
  std::optional<int> priority;
  std::optional<int> weight;
  std::optional<absl::Duration> max_delay;  // its own, before the category's and the policy's
  bool expires_end_of_local_day = false;    // a birthday message is worthless the day after
};

// What the messages of a category are exempt from (a policy's `exempt_from`). Transactional
// messages are typically exempt from all of these; nothing is exempt from a channel blocked by
// a hard bounce or a complaint.
struct Exemptions {
  // Caps that do not name the category neither limit its messages nor count its sends.
  bool caps = false;
  // A global opt-out, a channel the contact unsubscribed from or support blocked, and the
  // suppression of a forgotten contact.
  bool opt_out = false;
  // Subscription consent (opt-in and opt-out regimes).
  bool subscriptions = false;
  // The contact's pause.
  bool pause = false;
  // The contact's own maximum per channel; its sends do not count against it either.
  bool contact_frequency = false;
  // Quiet hours and holidays.
  bool quiet_hours = false;
};

struct Category {
  std::string name;
  uint32_t id = 0;
  Exemptions exempt;
  // A DEFER further away than this becomes a DENY, for this category's messages (a flash sale
  // is worthless tomorrow); absent: the policy's max_delay.
  std::optional<absl::Duration> max_delay;
  FailMode on_store_failure = FailMode::kDefer;
};

struct SegmentLimit {
  std::string segment;
  int64_t limit = 0;
};

// Priority headroom: messages of a priority below `below_priority` may fill the cap only up to
// its limit minus `keep`, which stays for the more important ones.
struct Reserve {
  int below_priority = 0;
  int64_t keep = 0;
};

// A frequency cap: at most `limit` weight units of matching sends in `window`.
struct Cap {
  std::string id;
  std::string description;  // written by the policy author, or generated from the scope
  // Which sends the cap applies to and counts, per field; an empty list means any value.
  // The category list is never empty after compilation: absent in the file, it is every
  // category not exempt from caps.
  std::array<std::vector<uint32_t>, kFieldCount> only;
  // Counted separately per value of these fields of the message ("per campaign"); the cap
  // applies only to messages that carry every one of them, but for the edition: a message
  // without one is its campaign's only edition ("per [campaign, edition]" refuses a campaign
  // sent twice when it has no editions, and the same edition twice when it has).
  std::vector<Field> per;
  Window window;
  int64_t limit = 0;
  // A contact in several of these segments gets the lowest of their limits, or with
  // `first_segment_wins` (an ordered list in the policy) the limit of the first it is in.
  std::vector<SegmentLimit> segment_limits;
  bool first_segment_wins = false;
  std::vector<Reserve> reserves;
};

// Capacity: what a channel can absorb in total, whoever the contacts (an SMS provider's 100
// messages a second, a call centre's 500 calls a day), counted in fixed intervals: a rolling
// window's length from the epoch (1s: each second), or the calendar day, week or month in the
// policy's time zone. Each message counts 1. The count is split in `shards` counters, a contact
// always on the same one with its share of the limit, so that no single Redis key takes every
// send; the total never exceeds the limit.
struct Capacity {
  std::string id;
  std::string description;
  std::vector<uint32_t> channels;    // channel ids, never empty
  std::vector<uint32_t> categories;  // category ids; empty: every category
  Window interval;
  int64_t limit = 1;
  int shards = 1;  // 1 to min(limit, kMaxCapacityShards)

  // The part of the limit shard `shard` (0 to shards - 1) may use.
  int64_t ShareOf(int shard) const;
};
inline constexpr int kMaxCapacityShards = 64;

// What one caller may declare in its requests: the categories it may send (a newsletter tool
// may not send `transactional`, which skips caps) and whether it may ask dry runs. A caller
// is named by the allow rule of the authorization policy that lets it in.
struct Caller {
  std::string name;
  std::vector<int> categories;  // indexes into Policy::categories
  bool dry_run = false;
};

struct Policy {
  std::string version;
  absl::TimeZone default_timezone;
  absl::Weekday week_starts = absl::Weekday::monday;
  absl::Duration max_delay;             // a DEFER further away than this becomes a DENY
  absl::Duration store_failure_retry;   // retry_at offset of a fail-mode DEFER
  absl::Duration idempotency_window;    // a message_id is remembered at least this long
  // A planned send (Arbiter.Plan) that no decision consumed is forgotten this long after its
  // planned time.
  absl::Duration plan_grace = absl::Hours(6);
  int default_category = 0;             // index into categories
  int default_priority = 50;

  std::vector<Channel> channels;
  std::vector<Category> categories;
  std::vector<Subscription> subscriptions;
  // The programs requests may name; empty: any program id.
  std::vector<Program> programs;
  // The segments a request or a contact's profile may name; empty: any.
  std::vector<std::string> segments;
  std::vector<Cap> caps;
  std::vector<HolidayCalendar> holidays;
  std::vector<QuietHours> quiet_hours;
  std::vector<Capacity> capacity;
  // The policy's `callers`: when it has them (`restricts_callers`), a caller not listed may
  // declare nothing; without them, every caller the authorization policy lets in may send
  // every category.
  std::vector<Caller> callers;
  bool restricts_callers = false;

  // OK when `caller` may send a message of `category` (a real one, or a dry run when
  // `dry_run`); else PERMISSION_DENIED naming the field. An empty `caller` (no authorization
  // policy: callers are not known) may declare anything.
  absl::Status CallerMayDeclare(absl::string_view caller, int category, bool dry_run) const;

  // How long history is kept: the longest cap reach and the idempotency window.
  absl::Duration Retention() const;
  int FindProgram(absl::string_view name) const;

  // Index of the named entry, or -1.
  int FindChannel(absl::string_view name) const;
  int FindCategory(absl::string_view name) const;
  int FindSubscription(absl::string_view name) const;
  // The entry with this stored id, or nullptr.
  const Channel* ChannelById(uint32_t id) const;
  const Subscription* SubscriptionById(uint32_t id) const;
  // Whether a request or a profile may name this segment.
  bool KnowsSegment(absl::string_view segment) const;
  // The name an id stands for in this policy, or "#<hex>" when it names nothing here.
  std::string NameOf(Field field, uint32_t id) const;
  // The ids of every rule a reason may name, in order: caps, quiet hours, capacity.
  std::vector<std::string> RuleIds() const;
};

}  // namespace sendgate::core
