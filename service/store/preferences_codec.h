// The packed form of a contact's stored preferences, sg:{<contact>}:p, laid out as
// script_contract.h says (SENDGATE_PREFERENCE_*): decide.lua reads it, Update and Forget write
// it. A suppression entry has the same form.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/core/check_plan.h"
#include "service/core/preferences.h"

namespace sendgate::store {

std::string EncodePreferences(const core::Preferences& preferences);

// A kCorruptHistory store error when `blob` is not a whole, well-formed record.
absl::StatusOr<core::Preferences> DecodePreferences(absl::string_view blob);

// The profile part alone (decide.lua's PROFILE_CHANGED reply).
absl::StatusOr<core::StoredProfile> DecodeProfile(absl::string_view blob);

}  // namespace sendgate::store
