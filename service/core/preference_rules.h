// The preference rules the store checks against a contact's stored choices, in C++: with
// core/history.cc, the statement of what decide.lua does, which the tests hold the script to.
#pragma once

#include <optional>
#include <vector>

#include "service/core/check_plan.h"
#include "service/core/preferences.h"

namespace sendgate::core {

// RuleVerdict::detail of a PAUSED verdict for a pause of the message's channel alone.
inline constexpr uint8_t kPauseOfChannel = 1;

// Each rule appends a verdict for what holds the message back (nothing when it may go).
// `stored` is the contact's preferences, or its suppression entry when it was forgotten, or
// nullptr when nothing is stored.

// A global opt-out (OPTED_OUT), a suppressed contact (SUPPRESSED), a blocked channel
// (CHANNEL_BLOCKED): never.
void CheckOptOut(const PreferenceCheck& check, const Preferences* stored,
                 std::vector<RuleVerdict>& verdicts);
// The message's subscription on its channel: opted out (UNSUBSCRIBED) or, under an opt-in
// regime, no recorded opt-in (NOT_OPTED_IN): never.
void CheckConsent(const PreferenceCheck& check, const Preferences* stored,
                  std::vector<RuleVerdict>& verdicts);
// A pause that lasts past `at`: PAUSED until its end; and a pause of the message's channel
// that does, another PAUSED with detail kPauseOfChannel.
void CheckPause(const PreferenceCheck& check, const Preferences* stored, absl::Time at,
                std::vector<RuleVerdict>& verdicts);

// The contact's own maximum on the message's channel as a cap to count, when it has one and
// the message's category is not exempt from it.
std::optional<CapCheck> ContactFrequencyCap(const CheckPlan& plan, const Preferences* stored);

}  // namespace sendgate::core
