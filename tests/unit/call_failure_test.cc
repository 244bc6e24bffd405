// What a caller of Cancel, GetPressure or a preference RPC gets for each kind of store failure
// (docs/api.md, "Store failures outside a decision").
#include "service/api/unary_call.h"

#include <gtest/gtest.h>

#include "service/store/store_error.h"

namespace sendgate::api {
namespace {

using store::StoreError;
using store::StoreErrorKind;

grpc::StatusCode CodeFor(StoreErrorKind kind) {
  return CallFailure(StoreError(kind, "detail")).error_code();
}

TEST(CallFailure, RetryableKindsAreUnavailable) {
  for (StoreErrorKind kind : {StoreErrorKind::kUnavailable, StoreErrorKind::kTimeout,
                              StoreErrorKind::kRedirected, StoreErrorKind::kCircuitOpen}) {
    EXPECT_EQ(CodeFor(kind), grpc::StatusCode::UNAVAILABLE) << store::KindLabel(kind);
  }
}

TEST(CallFailure, AFullQueueOrAFullRedisIsResourceExhausted) {
  EXPECT_EQ(CodeFor(StoreErrorKind::kOverloaded), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(CodeFor(StoreErrorKind::kOutOfMemory), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(CallFailure, WhatARetryCannotFixIsInternalOrDataLoss) {
  EXPECT_EQ(CodeFor(StoreErrorKind::kRedisError), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(CodeFor(StoreErrorKind::kMalformedReply), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(CodeFor(StoreErrorKind::kCorruptHistory), grpc::StatusCode::DATA_LOSS);
}

TEST(CallFailure, TheMessageStartsWithTheCauseInWords) {
  EXPECT_EQ(CallFailure(StoreError(StoreErrorKind::kOverloaded, "100000 wait")).error_message(),
            "too many commands wait for Redis: 100000 wait");
}

// Redis answered, its replicas did not confirm in time: not "Redis is unreachable".
TEST(CallFailure, AWriteOnThePrimaryAloneSaysSoInTheStoresWords) {
  const std::string words = "the change was written on the Redis primary, but 0 of the 1 "
                            "replicas asked for confirmed it in time";
  const grpc::Status status =
      CallFailure(store::WrittenOnPrimary(StoreError(StoreErrorKind::kUnavailable, words)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), words);
}

TEST(CallFailure, AStatusNotFromTheStoreKeepsItsCode) {
  EXPECT_EQ(CallFailure(absl::FailedPreconditionError("stale")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace sendgate::api
