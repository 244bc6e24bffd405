// Compiles a message into the check plan the store runs: DESIGN.md's hot path, step 2.
#pragma once

#include "absl/time/time.h"
#include "service/core/check_plan.h"
#include "service/core/message.h"
#include "service/core/policy.h"

namespace sendgate::core {

// Whether a message or record with `id` for `field` has a partition of a cap counted `per` that
// field: when it has a value, and for the edition always (a message without one is its
// campaign's only edition).
bool HasPartition(Field field, uint32_t id);

// Whether `cap` limits `message`: its filters accept the message, it has a partition of every
// `per` field, and the message's category is not exempt (unless the cap names it).
bool CapApplies(const Cap& cap, const Message& message);

// Whether `cap` counts History::exempt: it names a category exempt from caps.
bool CountsExempt(const Policy& policy, const Cap& cap);

// The cap's limit for a contact in `segments`: the lowest matching segment limit (the first in
// the policy's order, for an ordered list), else `limit`.
int64_t EffectiveLimit(const Cap& cap, const std::vector<std::string>& segments);

// The weight units of `cap` kept from a message of `priority` (the largest reserve it is below).
int64_t Reserved(const Cap& cap, int priority);

// The shard of a capacity rule of `shards` shards a contact's messages count on: always the
// same for one contact.
int CapacityShard(absl::string_view contact_id, int shards);

// `now` is the server's clock, passed in so that tests control it.
CheckPlan PlanCheck(const Policy& policy, const Message& message, absl::Time now);

// The longest `message` may be deferred: its program's, else its category's, else the policy's.
absl::Duration MaxDelayFor(const Policy& policy, const Message& message);

// When `message` becomes worthless: its expires_at, else the end of the contact's local day
// for a program that says so, else never.
absl::Time ExpiresAt(const Policy& policy, const Message& message);

// Room found later than this is no use to `message`: the earlier of its expiry and the
// policy's maximum delay after its intended send_at.
absl::Time DenyAfter(const Policy& policy, const Message& message);

}  // namespace sendgate::core
