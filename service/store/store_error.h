// Why a store call failed. Every failure the store reports is one of these kinds, carried in
// the absl::Status it returns; metrics, logs and the status a caller gets all derive from the
// kind, through the one table in store_error.cc.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sendgate::store {

enum class StoreErrorKind {
  kUnavailable,     // not connected, connection lost, Redis loading, busy or read-only: retry
  kTimeout,         // no answer by the call's deadline
  kOverloaded,      // too many commands already waiting for Redis (a bounded queue is full)
  kOutOfMemory,     // Redis refuses writes (maxmemory reached)
  kRedirected,      // MOVED or ASK past the router's redirection limit (slots moving): retry
  kRedisError,      // any other error reply (WRONGTYPE, a script error): bad data or a bug
  kMalformedReply,  // a reply that breaks the script's contract (script_contract.h)
  kCorruptHistory,  // a stored history that does not decode
  kCircuitOpen,     // the node let calls in a row pass their deadline: refused at once (retry)
};
inline constexpr int kStoreErrorKinds = 9;

// A status of `kind`: its code is the kind's (UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, INTERNAL or DATA_LOSS) and its message `detail`.
absl::Status StoreError(StoreErrorKind kind, absl::string_view detail);

// Whether the store made `status` (it then has a kind).
bool IsStoreError(const absl::Status& status);

// The kind of a status the store returned (kUnavailable for a status it did not make).
StoreErrorKind KindOf(const absl::Status& status);

// The metric label of `kind`: "unavailable", "timeout", "out_of_memory" ...
absl::string_view KindLabel(StoreErrorKind kind);

// What a failed call means to a caller, in a few words ("Redis is out of memory").
absl::string_view KindCause(StoreErrorKind kind);

// Whether the same call may succeed if retried shortly (the caller gets UNAVAILABLE then).
bool Retryable(StoreErrorKind kind);

// `status`, a write's failure, marked as coming after Redis ran the write: it stands on the
// primary (its replicas did not confirm it in time, or the connection was lost while they were
// waited for).
absl::Status WrittenOnPrimary(absl::Status status);
bool IsWrittenOnPrimary(const absl::Status& status);

}  // namespace sendgate::store
