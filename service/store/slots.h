// Redis Cluster key slots (CRC16 of the key's hash tag, modulo 16384, as the cluster
// specification defines them), and a short hash tag for every slot, so that a key that must sit
// in a contact's slot can be named without the contact id (the suppression list).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace sendgate::store {

inline constexpr int kSlots = 16384;

// The slot of `key`: CRC16 of its hash tag (the part between the first '{' and the next '}',
// when not empty) or of the whole key.
int SlotOf(absl::string_view key);

// The shortest tag "slot-" + digits and lower-case letters whose slot is `slot`.
const std::string& TagOfSlot(int slot);

}  // namespace sendgate::store
