// The one-way keyed hash of a contact id that stays in the suppression list when a contact is
// forgotten (GDPR erasure): keyed BLAKE2b (libsodium's crypto_generichash), 128 bits, hex. The
// key is the operator's secret (--suppression_key_file): without it the hash cannot be
// recomputed from a guessed id, and with another key every forgotten contact that had opted
// out would become reachable again, so it must never change (docs/operations.md).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sendgate::api {

class ContactHasher {
 public:
  // A hasher with no key: Hash() is "" (no suppression list; Forget is refused).
  ContactHasher() = default;

  // The key is the file's content, surrounding white space removed: 32 to 64 bytes.
  static absl::StatusOr<ContactHasher> FromKeyFile(const std::string& path);
  static absl::StatusOr<ContactHasher> FromKey(absl::string_view key);

  bool enabled() const { return !key_.empty(); }
  // Hex of the keyed hash of `contact_id`, or "" without a key.
  std::string Hash(absl::string_view contact_id) const;
  // A fingerprint of the key itself (the keyed hash of a fixed text), to tell at start whether
  // the key is the one the suppression list was written with.
  std::string KeyFingerprint() const;

 private:
  std::string key_;
};

}  // namespace sendgate::api
