#include "service/api/preference_requests.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/api/proto_conversion.h"
#include "service/api/request_validation.h"
#include "service/core/names.h"
#include "service/policy/duration.h"
#include "service/policy/time_zones.h"

namespace sendgate::api {
namespace {

using core::Field;

constexpr int kMaxContactLimit = 1000;

std::string At(absl::string_view field, int index) { return absl::StrCat(field, "[", index, "]"); }

absl::StatusOr<uint32_t> ChannelId(const std::string& field, absl::string_view name,
                                   const core::Policy& policy) {
  absl::StatusOr<int> channel = ChannelFromRequest(field, name, policy);
  if (!channel.ok()) return channel.status();
  return policy.channels[*channel].id;
}

// Each channel once in a list of changes.
absl::Status CheckOnce(const std::string& field, std::vector<uint32_t>& seen, uint32_t channel) {
  if (std::find(seen.begin(), seen.end(), channel) != seen.end()) {
    return Invalid(field, "names a channel already changed by this update");
  }
  seen.push_back(channel);
  return absl::OkStatus();
}

template <typename Request>
absl::Status ReadSubscriptions(const Request& request, const core::Policy& policy,
                               core::PreferenceChanges& changes) {
  for (int i = 0; i < request.subscriptions_size(); ++i) {
    const v1::SubscriptionChoice& choice = request.subscriptions(i);
    const std::string field = At("subscriptions", i);
    absl::StatusOr<int> subscription =
        SubscriptionFromRequest(field + ".subscription", choice.subscription(), policy);
    if (!subscription.ok()) return subscription.status();
    absl::StatusOr<int> channel = ChannelFromRequest(field + ".channel", choice.channel(), policy);
    if (!channel.ok()) return channel.status();
    const core::Subscription& declared = policy.subscriptions[*subscription];
    if (absl::Status covered = CheckCovers(policy, declared, policy.channels[*channel]);
        !covered.ok()) {
      return Invalid(field + ".channel", covered.message().substr(covered.message().find(": ") + 2));
    }
    const core::SubscriptionChoice resolved{.subscription = declared.id,
                                            .channel = policy.channels[*channel].id,
                                            .opted_in = choice.opted_in()};
    for (const core::SubscriptionChoice& earlier : changes.subscriptions) {
      if (earlier.subscription == resolved.subscription && earlier.channel == resolved.channel) {
        return Invalid(field, "is given twice in this update");
      }
    }
    changes.subscriptions.push_back(resolved);
  }
  return absl::OkStatus();
}

template <typename Request>
absl::Status ReadBlocks(const Request& request, const core::Policy& policy,
                        core::PreferenceChanges& changes) {
  std::vector<uint32_t> seen;
  for (int i = 0; i < request.block_channels_size(); ++i) {
    const v1::BlockedChannel& block = request.block_channels(i);
    const std::string field = At("block_channels", i);
    absl::StatusOr<uint32_t> channel = ChannelId(field + ".channel", block.channel(), policy);
    if (!channel.ok()) return channel.status();
    if (block.reason() == v1::BlockedChannel::REASON_UNSPECIFIED ||
        !v1::BlockedChannel::Reason_IsValid(block.reason())) {
      return Invalid(field + ".reason",
                     "must be UNSUBSCRIBED, HARD_BOUNCE, COMPLAINT or MANUAL");
    }
    if (absl::Status once = CheckOnce(field + ".channel", seen, *channel); !once.ok()) return once;
    changes.block.push_back(
        {.channel = *channel, .reason = static_cast<core::BlockReason>(block.reason())});
  }
  for (int i = 0; i < request.unblock_channels_size(); ++i) {
    const std::string field = At("unblock_channels", i);
    absl::StatusOr<uint32_t> channel = ChannelId(field, request.unblock_channels(i), policy);
    if (!channel.ok()) return channel.status();
    if (absl::Status once = CheckOnce(field, seen, *channel); !once.ok()) return once;
    changes.unblock.push_back(*channel);
  }
  return absl::OkStatus();
}

template <typename Request>
absl::Status ReadFrequency(const Request& request, const core::Policy& policy,
                           core::PreferenceChanges& changes) {
  std::vector<uint32_t> seen;
  for (int i = 0; i < request.frequency_size(); ++i) {
    const v1::FrequencyLimit& limit = request.frequency(i);
    const std::string field = At("frequency", i);
    absl::StatusOr<uint32_t> channel = ChannelId(field + ".channel", limit.channel(), policy);
    if (!channel.ok()) return channel.status();
    if (limit.limit() < 1 || limit.limit() > kMaxContactLimit) {
      return Invalid(field + ".limit", absl::StrCat("must be from 1 to ", kMaxContactLimit,
                                                    ", not ", limit.limit()));
    }
    if (absl::Status text = CheckText(field + ".window", limit.window(), 64); !text.ok()) {
      return text;
    }
    std::optional<core::Window> window = policy::ParseWindow(limit.window());
    if (!window) {
      return Invalid(field + ".window", absl::StrCat("must be ", policy::kWindowSyntax, ", not '",
                                                     limit.window(), "'"));
    }
    if (absl::Status once = CheckOnce(field + ".channel", seen, *channel); !once.ok()) return once;
    changes.frequency.push_back({.channel = *channel, .limit = limit.limit(), .window = *window});
  }
  for (int i = 0; i < request.clear_frequency_size(); ++i) {
    const std::string field = At("clear_frequency", i);
    absl::StatusOr<uint32_t> channel = ChannelId(field, request.clear_frequency(i), policy);
    if (!channel.ok()) return channel.status();
    if (absl::Status once = CheckOnce(field, seen, *channel); !once.ok()) return once;
    changes.clear_frequency.push_back(*channel);
  }
  return absl::OkStatus();
}

template <typename Request>
absl::Status ReadPause(const Request& request, absl::Time now, core::PreferenceChanges& changes) {
  if (request.clear_pause() && request.has_pause_until()) {
    return Invalid("pause_until", "cannot be set together with clear_pause");
  }
  changes.clear_pause = request.clear_pause();
  if (!request.has_pause_until()) return absl::OkStatus();
  absl::StatusOr<absl::Time> until = InstantFromRequest("pause_until", request.pause_until());
  if (!until.ok()) return until.status();
  if (*until <= now) return Invalid("pause_until", "must be in the future (use clear_pause to lift a pause)");
  if (*until > now + kMaxPause) return Invalid("pause_until", "must be at most 2 years ahead");
  changes.pause_until = *until;
  return absl::OkStatus();
}

// Pauses of single channels: each after now and at most kMaxPause ahead, one change per channel.
template <typename Request>
absl::Status ReadChannelPauses(const Request& request, const core::Policy& policy,
                               absl::Time now, core::PreferenceChanges& changes) {
  std::vector<uint32_t> seen;
  for (int i = 0; i < request.pause_channels_size(); ++i) {
    const v1::ChannelPause& pause = request.pause_channels(i);
    const std::string field = At("pause_channels", i);
    absl::StatusOr<uint32_t> channel = ChannelId(field + ".channel", pause.channel(), policy);
    if (!channel.ok()) return channel.status();
    if (!pause.has_until()) return Invalid(field + ".until", "is required");
    absl::StatusOr<absl::Time> until = InstantFromRequest(field + ".until", pause.until());
    if (!until.ok()) return until.status();
    if (*until <= now) {
      return Invalid(field + ".until", "must be in the future (use resume_channels to lift it)");
    }
    if (*until > now + kMaxPause) return Invalid(field + ".until", "must be at most 2 years ahead");
    if (absl::Status once = CheckOnce(field + ".channel", seen, *channel); !once.ok()) return once;
    changes.pause_channels.push_back({.channel = *channel, .until = *until});
  }
  for (int i = 0; i < request.resume_channels_size(); ++i) {
    const std::string field = At("resume_channels", i);
    absl::StatusOr<uint32_t> channel = ChannelId(field, request.resume_channels(i), policy);
    if (!channel.ok()) return channel.status();
    if (absl::Status once = CheckOnce(field, seen, *channel); !once.ok()) return once;
    changes.resume_channels.push_back(*channel);
  }
  return absl::OkStatus();
}

template <typename Request>
absl::Status ReadProfile(const Request& request, const core::Policy& policy,
                         core::PreferenceChanges& changes) {
  if (request.has_timezone()) {
    if (!request.timezone().empty() && !policy::FindTimeZone(request.timezone()).has_value()) {
      return Invalid("timezone", absl::StrCat("unknown time zone '",
                                              absl::CHexEscape(request.timezone().substr(0, 64)),
                                              "' (use an IANA name such as Europe/Paris)"));
    }
    changes.timezone = request.timezone();
  }
  if (request.has_segments()) {
    absl::StatusOr<std::vector<std::string>> segments =
        SegmentsFromRequest(request.segments().segments(), policy);
    if (!segments.ok()) return segments.status();
    changes.segments = std::move(*segments);
  }
  return absl::OkStatus();
}

template <typename Request>
absl::StatusOr<PreferenceUpdate> Read(const Request& request, const core::Policy& policy,
                                      absl::Time now, v1::Evidence::Source default_source) {
  PreferenceUpdate update{.contact_id = request.contact_id()};
  if (absl::Status id = CheckId("contact_id", request.contact_id()); !id.ok()) return id;
  if (request.has_expected_version()) {
    if (request.expected_version() < 0) return Invalid("expected_version", "must not be negative");
    update.expected_version = request.expected_version();
  }
  absl::StatusOr<v1::Evidence> evidence = EvidenceFromRequest(request.evidence(), default_source);
  if (!evidence.ok()) return evidence.status();
  update.evidence = std::move(*evidence);
  if (request.has_global_opt_out()) update.changes.global_opt_out = request.global_opt_out();
  for (absl::Status status :
       {ReadSubscriptions(request, policy, update.changes),
        ReadBlocks(request, policy, update.changes),
        ReadFrequency(request, policy, update.changes), ReadPause(request, now, update.changes),
        ReadChannelPauses(request, policy, now, update.changes),
        ReadProfile(request, policy, update.changes)}) {
    if (!status.ok()) return status;
  }
  return update;
}

std::string Names(const core::Policy& policy, Field field, uint32_t id) {
  return policy.NameOf(field, id);
}

}  // namespace

absl::StatusOr<v1::Evidence> EvidenceFromRequest(const v1::Evidence& evidence,
                                                 v1::Evidence::Source default_source) {
  v1::Evidence out = evidence;
  if (!v1::Evidence::Source_IsValid(evidence.source())) {
    return Invalid("evidence.source", absl::StrCat("unknown source ", evidence.source()));
  }
  if (evidence.source() == v1::Evidence::SOURCE_UNSPECIFIED) out.set_source(default_source);
  for (auto [field, value] : {std::pair<const char*, const std::string*>{"evidence.actor", &evidence.actor()},
                              {"evidence.text_version", &evidence.text_version()}}) {
    if (absl::Status text = CheckText(field, *value, 256); !text.ok()) return text;
  }
  return out;
}

absl::StatusOr<PreferenceUpdate> UpdateFromRequest(const v1::UpdatePreferencesRequest& request,
                                                   const core::Policy& policy, absl::Time now,
                                                   v1::Evidence::Source default_source) {
  return Read(request, policy, now, default_source);
}

absl::StatusOr<PreferenceUpdate> UpdateFromRequest(const v1::ImportRow& row,
                                                   const core::Policy& policy, absl::Time now,
                                                   v1::Evidence::Source default_source) {
  return Read(row, policy, now, default_source);
}

void FillPreferences(const core::Policy& policy, absl::string_view contact_id,
                     const core::Preferences& preferences, v1::ContactPreferences* out) {
  out->set_contact_id(std::string(contact_id));
  out->set_global_opt_out(preferences.global_opt_out);
  out->set_suppressed(preferences.suppressed);
  for (const core::SubscriptionChoice& choice : preferences.subscriptions) {
    v1::SubscriptionChoice* shown = out->add_subscriptions();
    shown->set_subscription(Names(policy, Field::kSubscription, choice.subscription));
    shown->set_channel(Names(policy, Field::kChannel, choice.channel));
    shown->set_opted_in(choice.opted_in);
  }
  for (const core::ChannelBlock& block : preferences.blocks) {
    v1::BlockedChannel* shown = out->add_blocked_channels();
    shown->set_channel(Names(policy, Field::kChannel, block.channel));
    shown->set_reason(static_cast<v1::BlockedChannel::Reason>(block.reason));
  }
  if (preferences.pause_until.has_value()) {
    ToTimestamp(*preferences.pause_until, out->mutable_pause_until());
  }
  for (const core::ContactFrequency& frequency : preferences.frequency) {
    v1::FrequencyLimit* shown = out->add_frequency();
    shown->set_channel(Names(policy, Field::kChannel, frequency.channel));
    shown->set_limit(static_cast<int32_t>(frequency.limit));
    shown->set_window(policy::FormatWindow(frequency.window));
  }
  for (const core::ChannelPause& pause : preferences.channel_pauses) {
    v1::ChannelPause* shown = out->add_channel_pauses();
    shown->set_channel(Names(policy, Field::kChannel, pause.channel));
    ToTimestamp(pause.until, shown->mutable_until());
  }
  out->set_timezone(preferences.timezone);
  for (const std::string& segment : preferences.segments) out->add_segments(segment);
  out->set_version(preferences.version);
}

}  // namespace sendgate::api
