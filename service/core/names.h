// Stable ids for names (channels, categories, campaigns ...) and message ids, as stored in a
// contact's send history. Hashes of the name, not positions in the policy file, so they survive
// policy edits: renaming a channel makes it a new channel, reordering changes nothing.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include "service/core/send_record.h"

namespace sendgate::core {

// 32-bit FNV-1a of `name`; never 0, which stands for "none" (no subscription, no campaign ...).
uint32_t NameId(absl::string_view name);

// Whether `field` holds free-form values (program, campaign, edition) rather than names the
// policy declares (channel, category, subscription).
bool IsFreeForm(Field field);

// The id a message's `field` value is stored under: 16 bits for the names a policy declares
// (channel, category, subscription; the loader refuses two that collide), 32 bits for
// free-form programs, campaigns and editions. 0 for an empty name.
uint32_t FieldId(Field field, absl::string_view name);

// 64-bit FNV-1a of a message_id: the idempotency key kept in history. 0 is never returned.
uint64_t MessageHash(absl::string_view message_id);

// `hash` with every bit spread over every other (MurmurHash3's 64-bit finalizer): FNV-1a's
// bits depend little on a name's last characters, so a shard taken from them would put
// "contact-1" ... "contact-64" on one shard.
uint64_t Spread(uint64_t hash);

// "#1a2b3c4d": how an id is shown when no name is known for it.
std::string HexId(uint64_t id, int digits);

}  // namespace sendgate::core
