#include "service/api/profile_cache.h"

#include "service/core/names.h"

namespace sendgate::api {

ProfileCache::ProfileCache(size_t capacity)
    : per_shard_(std::max<size_t>(1, capacity / kShards)),
      maybe_(new std::atomic<uint64_t>[kBits / 64]) {
  for (size_t i = 0; i < kBits / 64; ++i) maybe_[i].store(0, std::memory_order_relaxed);
}

std::optional<core::StoredProfile> ProfileCache::Find(absl::string_view contact_id) const {
  const uint64_t hash = core::MessageHash(contact_id);
  const size_t bit = hash % kBits;
  if ((maybe_[bit / 64].load(std::memory_order_acquire) & (uint64_t{1} << (bit % 64))) == 0) {
    return std::nullopt;
  }
  const Shard& shard = shards_[(hash >> 32) % kShards];
  absl::MutexLock lock(&shard.mutex);
  auto it = shard.profiles.find(contact_id);
  if (it == shard.profiles.end()) return std::nullopt;
  return it->second;
}

void ProfileCache::Remember(absl::string_view contact_id, const core::StoredProfile& profile) {
  const uint64_t hash = core::MessageHash(contact_id);
  Shard& shard = shards_[(hash >> 32) % kShards];
  absl::MutexLock lock(&shard.mutex);
  if (profile.timezone.empty() && profile.segments.empty()) {
    shard.profiles.erase(contact_id);
    return;
  }
  if (shard.profiles.size() >= per_shard_ && !shard.profiles.contains(contact_id)) {
    shard.profiles.erase(shard.profiles.begin());
  }
  shard.profiles[contact_id] = profile;
  const size_t bit = hash % kBits;
  maybe_[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_release);
}

}  // namespace sendgate::api
