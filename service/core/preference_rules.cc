#include "service/core/preference_rules.h"

namespace sendgate::core {

void CheckOptOut(const PreferenceCheck& check, const Preferences* stored,
                 std::vector<RuleVerdict>& verdicts) {
  if (stored == nullptr) return;
  if (!check.exempt.opt_out && stored->suppressed) {
    verdicts.push_back({.code = ReasonCode::kSuppressed});
  }
  if (!check.exempt.opt_out && stored->global_opt_out) {
    verdicts.push_back({.code = ReasonCode::kOptedOut});
  }
  if (const ChannelBlock* block = stored->Block(check.channel)) {
    if (BlocksEverything(block->reason) || !check.exempt.opt_out) {
      verdicts.push_back({.code = ReasonCode::kChannelBlocked,
                          .detail = static_cast<uint8_t>(block->reason)});
    }
  }
}

void CheckConsent(const PreferenceCheck& check, const Preferences* stored,
                  std::vector<RuleVerdict>& verdicts) {
  if (check.subscription == 0 || check.exempt.subscriptions) return;
  const SubscriptionChoice* choice =
      stored == nullptr ? nullptr : stored->Choice(check.subscription, check.channel);
  if (choice != nullptr && !choice->opted_in) {
    verdicts.push_back({.code = ReasonCode::kUnsubscribed});
  } else if (choice == nullptr && check.opt_in) {
    verdicts.push_back({.code = ReasonCode::kNotOptedIn});
  }
}

void CheckPause(const PreferenceCheck& check, const Preferences* stored, absl::Time at,
                std::vector<RuleVerdict>& verdicts) {
  if (stored == nullptr || check.exempt.pause) return;
  if (stored->pause_until.has_value() && *stored->pause_until > at) {
    verdicts.push_back({.code = ReasonCode::kPaused, .at = *stored->pause_until});
  }
  if (const ChannelPause* pause = stored->PauseOf(check.channel);
      pause != nullptr && pause->until > at) {
    verdicts.push_back(
        {.code = ReasonCode::kPaused, .at = pause->until, .detail = kPauseOfChannel});
  }
}

std::optional<CapCheck> ContactFrequencyCap(const CheckPlan& plan, const Preferences* stored) {
  const PreferenceCheck& check = plan.preferences;
  if (stored == nullptr || check.exempt.contact_frequency) return std::nullopt;
  const ContactFrequency* frequency = stored->FrequencyOn(check.channel);
  if (frequency == nullptr) return std::nullopt;
  WindowBounds bounds;
  switch (frequency->window.kind) {
    case WindowKind::kRolling:
      bounds = BoundsAt(frequency->window, plan.send.at, absl::UTCTimeZone(), absl::Weekday::monday);
      break;
    case WindowKind::kDay: bounds = check.day; break;
    case WindowKind::kWeek: bounds = check.week; break;
    case WindowKind::kMonth: bounds = check.month; break;
  }
  return CapCheck{.cap = -1,
                  .counts_exempt = check.frequency_counts_exempt,
                  .start = bounds.start,
                  .end = bounds.end,
                  .slide = bounds.slide,
                  .limit = frequency->limit,
                  .match = {{Field::kChannel, {check.channel}},
                            {Field::kCategory, check.frequency_categories}}};
}

}  // namespace sendgate::core
