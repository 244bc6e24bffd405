// SHA-1 as Redis names scripts (EVALSHA), so the digest is known without asking Redis.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

namespace sendgate::store {

// Lower-case hex SHA-1 (FIPS 180-4) of `data`.
std::string Sha1Hex(absl::string_view data);

}  // namespace sendgate::store
