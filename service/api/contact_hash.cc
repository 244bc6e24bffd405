#include "service/api/contact_hash.h"

#include <sodium.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace sendgate::api {

absl::StatusOr<ContactHasher> ContactHasher::FromKeyFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot read the suppression key"));
  std::stringstream content;
  content << file.rdbuf();
  absl::StatusOr<ContactHasher> hasher = FromKey(absl::StripAsciiWhitespace(content.str()));
  if (!hasher.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", hasher.status().message()));
  return hasher;
}

absl::StatusOr<ContactHasher> ContactHasher::FromKey(absl::string_view key) {
  if (key.size() < crypto_generichash_KEYBYTES || key.size() > crypto_generichash_KEYBYTES_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the suppression key must be ", crypto_generichash_KEYBYTES, " to ",
        crypto_generichash_KEYBYTES_MAX, " bytes (such as 64 random hex digits), not ",
        key.size()));
  }
  if (sodium_init() < 0) return absl::InternalError("libsodium cannot start");
  ContactHasher hasher;
  hasher.key_ = std::string(key);
  return hasher;
}

std::string ContactHasher::Hash(absl::string_view contact_id) const {
  if (key_.empty()) return "";
  unsigned char hash[16];
  crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(contact_id.data()),
                     contact_id.size(), reinterpret_cast<const unsigned char*>(key_.data()),
                     key_.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash), sizeof(hash)));
}

std::string ContactHasher::KeyFingerprint() const {
  return key_.empty() ? "" : Hash("sendgate suppression key fingerprint");
}

}  // namespace sendgate::api
