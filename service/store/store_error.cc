#include "service/store/store_error.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace sendgate::store {
namespace {

struct KindInfo {
  absl::StatusCode code;
  absl::string_view label;
  absl::string_view cause;
  bool retryable;
};

// Indexed by StoreErrorKind.
constexpr KindInfo kKinds[kStoreErrorKinds] = {
    {absl::StatusCode::kUnavailable, "unavailable", "Redis is unreachable", true},
    {absl::StatusCode::kDeadlineExceeded, "timeout", "Redis did not answer in time", true},
    {absl::StatusCode::kResourceExhausted, "overloaded", "too many commands wait for Redis",
     true},
    {absl::StatusCode::kResourceExhausted, "out_of_memory", "Redis is out of memory", false},
    {absl::StatusCode::kUnavailable, "redirected",
     "the Redis Cluster kept redirecting the call (slots moving)", true},
    {absl::StatusCode::kInternal, "redis_error", "Redis answered an error", false},
    {absl::StatusCode::kInternal, "malformed_reply", "Redis answered something unexpected",
     false},
    {absl::StatusCode::kDataLoss, "corrupt_history", "a stored history is corrupt", false},
    {absl::StatusCode::kUnavailable, "circuit_open",
     "Redis let calls pass their deadline unanswered (circuit breaker open)", true},
};

constexpr absl::string_view kPayloadUrl = "type.sendgate.io/store-error-kind";
constexpr absl::string_view kWrittenUrl = "type.sendgate.io/written-on-primary";

const KindInfo& Info(StoreErrorKind kind) { return kKinds[static_cast<int>(kind)]; }

}  // namespace

absl::Status StoreError(StoreErrorKind kind, absl::string_view detail) {
  absl::Status status(Info(kind).code, detail);
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(kind))));
  return status;
}

bool IsStoreError(const absl::Status& status) {
  return status.GetPayload(kPayloadUrl).has_value();
}

StoreErrorKind KindOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kPayloadUrl);
  int kind = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &kind) || kind < 0 ||
      kind >= kStoreErrorKinds) {
    return StoreErrorKind::kUnavailable;
  }
  return static_cast<StoreErrorKind>(kind);
}

absl::string_view KindLabel(StoreErrorKind kind) { return Info(kind).label; }
absl::string_view KindCause(StoreErrorKind kind) { return Info(kind).cause; }
bool Retryable(StoreErrorKind kind) { return Info(kind).retryable; }

absl::Status WrittenOnPrimary(absl::Status status) {
  status.SetPayload(kWrittenUrl, absl::Cord("1"));
  return status;
}

bool IsWrittenOnPrimary(const absl::Status& status) {
  return status.GetPayload(kWrittenUrl).has_value();
}

}  // namespace sendgate::store
