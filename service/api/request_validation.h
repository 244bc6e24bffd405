// Checks requests field by field and resolves them against the policy snapshot. Every error
// is INVALID_ARGUMENT and starts with the field's name: "weight: must be from 1 to 1000, not 0".
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sendgate/v1/arbiter.pb.h"
#include "service/core/message.h"
#include "service/core/policy.h"

namespace sendgate::api {

// Bounds of request fields (documented in docs/api.md).
inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxSegmentBytes = 128;
inline constexpr int kMaxSegments = 64;
inline constexpr int kMaxWeight = 1000;
inline constexpr int kMaxPriority = 100;
// send_at, expires_at and GetPressure's `at` must be within this of now.
const absl::Duration kMaxTimeOffset = absl::Hours(24 * 366);

// What a request says of the message it is about, resolved into `message`: channel (required),
// category, subscription (covering the channel), program, campaign_id, edition, their ids,
// weight and priority (the program's defaults, else the policy's). For a DecideRequest and a
// PlannedCampaign, which name these fields alike.
template <typename Request>
absl::Status ResolveSend(const Request& request, const core::Policy& policy,
                         core::Message& message);

// `now` is the server's clock.
absl::StatusOr<core::Message> MessageFromRequest(const v1::DecideRequest& request,
                                                 const core::Policy& policy, absl::Time now);

// INVALID_ARGUMENT "<field>: <problem>".
absl::Status Invalid(absl::string_view field, absl::string_view problem);

// At most `max_bytes` of UTF-8 without control characters.
absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_bytes);

// The index of a declared channel (subscription), or INVALID_ARGUMENT naming `field` and
// listing what the policy declares.
absl::StatusOr<int> ChannelFromRequest(absl::string_view field, absl::string_view name,
                                       const core::Policy& policy);
absl::StatusOr<int> SubscriptionFromRequest(absl::string_view field, absl::string_view name,
                                            const core::Policy& policy);

// A contact_id or message_id: 1 to 256 bytes of UTF-8 without control characters.
absl::Status CheckId(absl::string_view field, absl::string_view value);

// The request's time zone, or the policy's default when `name` is empty.
absl::StatusOr<absl::TimeZone> ZoneFromRequest(absl::string_view field, absl::string_view name,
                                               const core::Policy& policy);

// The segments, sorted and without duplicates.
absl::StatusOr<std::vector<std::string>> SegmentsFromRequest(
    const google::protobuf::RepeatedPtrField<std::string>& segments, const core::Policy& policy);

// INVALID_ARGUMENT on "subscription" when `subscription` does not cover `channel`.
absl::Status CheckCovers(const core::Policy& policy, const core::Subscription& subscription,
                         const core::Channel& channel);

// A timestamp as an instant to the millisecond (any instant absl represents).
absl::StatusOr<absl::Time> InstantFromRequest(absl::string_view field,
                                              const google::protobuf::Timestamp& timestamp);

// An optional timestamp within kMaxTimeOffset of now; `fallback` when unset.
absl::StatusOr<absl::Time> TimeFromRequest(absl::string_view field, bool present,
                                           const google::protobuf::Timestamp& timestamp,
                                           absl::Time now, absl::Time fallback);

}  // namespace sendgate::api
