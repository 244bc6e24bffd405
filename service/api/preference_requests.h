// sendgate.v1.Preferences requests checked field by field and resolved against the policy, and
// stored preferences shown as the API shows them. Every error is INVALID_ARGUMENT and starts
// with the field: "subscriptions[0].channel: newsletter does not cover channel sms".
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sendgate/v1/preferences.pb.h"
#include "service/core/policy.h"
#include "service/core/preferences.h"

namespace sendgate::api {

// A pause may be set at most this far ahead.
const absl::Duration kMaxPause = absl::Hours(24 * 365 * 2);

// One update, validated: from an Update call or an Import row.
struct PreferenceUpdate {
  std::string contact_id;
  std::optional<int64_t> expected_version;
  v1::Evidence evidence;  // with its source set
  core::PreferenceChanges changes;
};

// `default_source` applies when the evidence names none (API for Update, IMPORT for Import).
absl::StatusOr<PreferenceUpdate> UpdateFromRequest(const v1::UpdatePreferencesRequest& request,
                                                   const core::Policy& policy, absl::Time now,
                                                   v1::Evidence::Source default_source);
absl::StatusOr<PreferenceUpdate> UpdateFromRequest(const v1::ImportRow& row,
                                                   const core::Policy& policy, absl::Time now,
                                                   v1::Evidence::Source default_source);

// The evidence of a Forget call, checked as an update's.
absl::StatusOr<v1::Evidence> EvidenceFromRequest(const v1::Evidence& evidence,
                                                 v1::Evidence::Source default_source);

// The contact's preferences as the API shows them (names from the policy; "#<hex>" for an id
// the policy no longer declares).
void FillPreferences(const core::Policy& policy, absl::string_view contact_id,
                     const core::Preferences& preferences, v1::ContactPreferences* out);

}  // namespace sendgate::api
