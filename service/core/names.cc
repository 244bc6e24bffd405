// FNV-1a: simple, stable across builds and platforms, good enough spread for short ids.
#include "service/core/names.h"

#include "absl/strings/str_format.h"

namespace sendgate::core {

uint32_t NameId(absl::string_view name) {
  if (name.empty()) return 0;
  uint32_t hash = 2166136261u;
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash == 0 ? 1 : hash;
}

bool IsFreeForm(Field field) {
  return field == Field::kProgram || field == Field::kCampaign || field == Field::kEdition;
}

uint32_t FieldId(Field field, absl::string_view name) {
  const uint32_t id = NameId(name);
  if (id == 0 || IsFreeForm(field)) return id;
  const uint32_t folded = (id ^ (id >> 16)) & 0xffff;
  return folded == 0 ? 1 : folded;
}

uint64_t MessageHash(absl::string_view message_id) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : message_id) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash == 0 ? 1 : hash;
}

uint64_t Spread(uint64_t hash) {
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdull;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ull;
  hash ^= hash >> 33;
  return hash;
}

std::string HexId(uint64_t id, int digits) { return absl::StrFormat("#%0*x", digits, id); }

}  // namespace sendgate::core
