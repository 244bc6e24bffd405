// What this replica last learned of contacts' stored profiles (time zone, segments), so that a
// request that leaves them out is planned with the right ones at the first try. Only a hint:
// the store checks every plan against the stored profile and answers kProfileChanged when it
// differs, and the Decider then plans again (two round trips instead of one).
// Bounded: at most `capacity` contacts, an arbitrary one evicted when a shard is full. A
// lookup for a contact with no stored profile (the common case) takes no lock: a bitmap of
// contact hashes says whether a shard may know it.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "service/core/check_plan.h"

namespace sendgate::api {

class ProfileCache {
 public:
  explicit ProfileCache(size_t capacity = 100000);

  std::optional<core::StoredProfile> Find(absl::string_view contact_id) const;
  // An empty profile (no time zone, no segments) is forgotten rather than stored.
  void Remember(absl::string_view contact_id, const core::StoredProfile& profile);

 private:
  static constexpr int kShards = 16;
  static constexpr size_t kBits = size_t{1} << 20;
  struct Shard {
    mutable absl::Mutex mutex;
    absl::flat_hash_map<std::string, core::StoredProfile> profiles ABSL_GUARDED_BY(mutex);
  };

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
  std::unique_ptr<std::atomic<uint64_t>[]> maybe_;  // kBits bits: a contact may be known
};

}  // namespace sendgate::api
