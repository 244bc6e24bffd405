#include "service/core/preferences.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/core/names.h"

namespace sendgate::core {
namespace {

template <typename T, typename Match>
const T* FindIn(const std::vector<T>& items, Match match) {
  auto it = std::find_if(items.begin(), items.end(), match);
  return it == items.end() ? nullptr : &*it;
}

std::string Instant(const std::optional<absl::Time>& at) {
  return at.has_value() ? absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", *at, absl::UTCTimeZone())
                        : "none";
}

std::string FrequencyText(const ContactFrequency* frequency) {
  if (frequency == nullptr) return "none";
  return absl::StrCat(frequency->limit, " per ", frequency->window.Describe());
}

// Records a change of `field` when `before` and `after` differ.
void Note(std::vector<AppliedChange>& changes, std::string field, std::string before,
          std::string after) {
  if (before != after) changes.push_back({std::move(field), std::move(before), std::move(after)});
}

std::string ChannelName(const Policy& policy, uint32_t id) {
  return policy.NameOf(Field::kChannel, id);
}

void ApplySubscriptions(const Policy& policy, const PreferenceChanges& changes,
                        Preferences& preferences, std::vector<AppliedChange>& applied) {
  for (const SubscriptionChoice& choice : changes.subscriptions) {
    auto it = std::find_if(preferences.subscriptions.begin(), preferences.subscriptions.end(),
                           [&](const SubscriptionChoice& c) {
                             return c.subscription == choice.subscription &&
                                    c.channel == choice.channel;
                           });
    const std::string before =
        it == preferences.subscriptions.end() ? "none" : (it->opted_in ? "opted in" : "opted out");
    if (it == preferences.subscriptions.end()) {
      preferences.subscriptions.push_back(choice);
    } else {
      it->opted_in = choice.opted_in;
    }
    Note(applied,
         absl::StrCat("subscription ", policy.NameOf(Field::kSubscription, choice.subscription),
                      " on ", ChannelName(policy, choice.channel)),
         before, choice.opted_in ? "opted in" : "opted out");
  }
}

void ApplyBlocks(const Policy& policy, const PreferenceChanges& changes,
                 Preferences& preferences, std::vector<AppliedChange>& applied) {
  auto describe = [&](uint32_t channel) {
    const ChannelBlock* block = preferences.Block(channel);
    return block == nullptr ? std::string("not blocked")
                            : absl::StrCat("blocked (", BlockReasonName(block->reason), ")");
  };
  for (uint32_t channel : changes.unblock) {
    const std::string before = describe(channel);
    std::erase_if(preferences.blocks, [&](const ChannelBlock& b) { return b.channel == channel; });
    Note(applied, absl::StrCat("channel ", ChannelName(policy, channel)), before, describe(channel));
  }
  for (const ChannelBlock& block : changes.block) {
    const std::string before = describe(block.channel);
    std::erase_if(preferences.blocks,
                  [&](const ChannelBlock& b) { return b.channel == block.channel; });
    preferences.blocks.push_back(block);
    Note(applied, absl::StrCat("channel ", ChannelName(policy, block.channel)), before,
         describe(block.channel));
  }
}

void ApplyFrequency(const Policy& policy, const PreferenceChanges& changes,
                    Preferences& preferences, std::vector<AppliedChange>& applied) {
  for (uint32_t channel : changes.clear_frequency) {
    const std::string before = FrequencyText(preferences.FrequencyOn(channel));
    std::erase_if(preferences.frequency,
                  [&](const ContactFrequency& f) { return f.channel == channel; });
    Note(applied, absl::StrCat("frequency on ", ChannelName(policy, channel)), before, "none");
  }
  for (const ContactFrequency& frequency : changes.frequency) {
    const std::string before = FrequencyText(preferences.FrequencyOn(frequency.channel));
    std::erase_if(preferences.frequency,
                  [&](const ContactFrequency& f) { return f.channel == frequency.channel; });
    preferences.frequency.push_back(frequency);
    Note(applied, absl::StrCat("frequency on ", ChannelName(policy, frequency.channel)), before,
         FrequencyText(&frequency));
  }
}

void ApplyChannelPauses(const Policy& policy, const PreferenceChanges& changes,
                        Preferences& preferences, std::vector<AppliedChange>& applied) {
  auto until = [&](uint32_t channel) -> std::optional<absl::Time> {
    const ChannelPause* pause = preferences.PauseOf(channel);
    return pause == nullptr ? std::nullopt : std::optional<absl::Time>(pause->until);
  };
  auto field = [&](uint32_t channel) {
    return absl::StrCat("pause of ", ChannelName(policy, channel));
  };
  for (uint32_t channel : changes.resume_channels) {
    const std::string before = Instant(until(channel));
    std::erase_if(preferences.channel_pauses,
                  [&](const ChannelPause& p) { return p.channel == channel; });
    Note(applied, field(channel), before, "none");
  }
  for (const ChannelPause& pause : changes.pause_channels) {
    const std::string before = Instant(until(pause.channel));
    std::erase_if(preferences.channel_pauses,
                  [&](const ChannelPause& p) { return p.channel == pause.channel; });
    preferences.channel_pauses.push_back(pause);
    Note(applied, field(pause.channel), before, Instant(pause.until));
  }
}

}  // namespace

bool BlocksEverything(BlockReason reason) {
  return reason == BlockReason::kHardBounce || reason == BlockReason::kComplaint;
}

absl::string_view BlockReasonName(BlockReason reason) {
  switch (reason) {
    case BlockReason::kUnsubscribed: return "unsubscribed";
    case BlockReason::kHardBounce: return "hard bounce";
    case BlockReason::kComplaint: return "complaint";
    case BlockReason::kManual: return "manual";
  }
  return "?";
}

const SubscriptionChoice* Preferences::Choice(uint32_t subscription, uint32_t channel) const {
  return FindIn(subscriptions, [&](const SubscriptionChoice& c) {
    return c.subscription == subscription && c.channel == channel;
  });
}

const ChannelBlock* Preferences::Block(uint32_t channel) const {
  return FindIn(blocks, [&](const ChannelBlock& b) { return b.channel == channel; });
}

const ContactFrequency* Preferences::FrequencyOn(uint32_t channel) const {
  return FindIn(frequency, [&](const ContactFrequency& f) { return f.channel == channel; });
}

const ChannelPause* Preferences::PauseOf(uint32_t channel) const {
  return FindIn(channel_pauses, [&](const ChannelPause& p) { return p.channel == channel; });
}

uint32_t TimeZoneFingerprint(absl::string_view timezone) { return NameId(timezone); }

uint32_t SegmentsFingerprint(const std::vector<std::string>& segments) {
  return NameId(absl::StrJoin(segments, absl::string_view("\0", 1)));
}

std::vector<AppliedChange> Apply(const Policy& policy, const PreferenceChanges& changes,
                                 ConsentSource source, Preferences& preferences) {
  std::vector<AppliedChange> applied;
  if (changes.global_opt_out.has_value()) {
    Note(applied, "global_opt_out", preferences.global_opt_out ? "true" : "false",
         *changes.global_opt_out ? "true" : "false");
    preferences.global_opt_out = *changes.global_opt_out;
    const bool by_the_contact =
        source == ConsentSource::kPreferenceCentre || source == ConsentSource::kSupport;
    if (!*changes.global_opt_out && preferences.suppressed && by_the_contact) {
      Note(applied, "suppressed", "true", "false");
      preferences.suppressed = false;
    }
  }
  ApplySubscriptions(policy, changes, preferences, applied);
  ApplyBlocks(policy, changes, preferences, applied);
  if (changes.clear_pause || changes.pause_until.has_value()) {
    const std::optional<absl::Time> before = preferences.pause_until;
    preferences.pause_until = changes.clear_pause ? std::nullopt : changes.pause_until;
    Note(applied, "pause_until", Instant(before), Instant(preferences.pause_until));
  }
  ApplyChannelPauses(policy, changes, preferences, applied);
  ApplyFrequency(policy, changes, preferences, applied);
  if (changes.timezone.has_value()) {
    Note(applied, "timezone", preferences.timezone.empty() ? "none" : preferences.timezone,
         changes.timezone->empty() ? "none" : *changes.timezone);
    preferences.timezone = *changes.timezone;
  }
  if (changes.segments.has_value()) {
    auto words = [](const std::vector<std::string>& segments) {
      return segments.empty() ? std::string("none") : absl::StrJoin(segments, ", ");
    };
    Note(applied, "segments", words(preferences.segments), words(*changes.segments));
    preferences.segments = *changes.segments;
  }
  return applied;
}

std::optional<Preferences> SuppressionOf(const Preferences& preferences) {
  Preferences kept{.suppressed = preferences.global_opt_out || preferences.suppressed,
                   .blocks = preferences.blocks};
  for (const SubscriptionChoice& choice : preferences.subscriptions) {
    if (!choice.opted_in) kept.subscriptions.push_back(choice);
  }
  if (!kept.suppressed && kept.blocks.empty() && kept.subscriptions.empty()) return std::nullopt;
  return kept;
}

}  // namespace sendgate::core
