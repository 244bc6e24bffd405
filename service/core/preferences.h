// A contact's preference-centre choices as values: what is stored (the store encodes it,
// service/store/preferences_codec.h), how an update changes it (with the changes in words for
// the consent trail), and what survives erasure. Names are stored as the same stable ids as in
// send history (core::FieldId), so a renamed channel is a new one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/core/policy.h"
#include "service/core/window.h"

namespace sendgate::core {

// Numbered as sendgate.v1.BlockedChannel.Reason.
enum class BlockReason : uint8_t {
  kUnsubscribed = 1,  // no marketing on the channel
  kHardBounce = 2,    // nothing at all goes there
  kComplaint = 3,     // nothing at all goes there
  kManual = 4,        // blocked by support: no marketing on the channel
};

// A hard bounce or a complaint: not even exempt (transactional) messages go there.
bool BlocksEverything(BlockReason reason);
absl::string_view BlockReasonName(BlockReason reason);

struct SubscriptionChoice {
  uint32_t subscription = 0;
  uint32_t channel = 0;
  bool opted_in = false;
  friend bool operator==(const SubscriptionChoice&, const SubscriptionChoice&) = default;
};

struct ChannelBlock {
  uint32_t channel = 0;
  BlockReason reason = BlockReason::kManual;
  friend bool operator==(const ChannelBlock&, const ChannelBlock&) = default;
};

// A pause of one channel: its marketing waits until `until` (the pause of everything aside).
struct ChannelPause {
  uint32_t channel = 0;
  absl::Time until;
  friend bool operator==(const ChannelPause&, const ChannelPause&) = default;
};

// The contact's own maximum on a channel.
struct ContactFrequency {
  uint32_t channel = 0;
  int64_t limit = 1;
  Window window;
  friend bool operator==(const ContactFrequency& a, const ContactFrequency& b) {
    return a.channel == b.channel && a.limit == b.limit && a.window.kind == b.window.kind &&
           a.window.length == b.window.length;
  }
};

struct Preferences {
  int64_t version = 0;  // 0: nothing stored
  bool global_opt_out = false;
  // A forgotten contact brought back: marketing stays refused (see Apply()).
  bool suppressed = false;
  std::optional<absl::Time> pause_until;
  std::vector<SubscriptionChoice> subscriptions;
  std::vector<ChannelBlock> blocks;
  std::vector<ContactFrequency> frequency;
  // The stored profile, used when a request leaves them out: an IANA name or "", and the
  // segments sorted without duplicates.
  std::string timezone;
  std::vector<std::string> segments;
  std::vector<ChannelPause> channel_pauses;  // one per channel

  const SubscriptionChoice* Choice(uint32_t subscription, uint32_t channel) const;
  const ChannelBlock* Block(uint32_t channel) const;
  const ContactFrequency* FrequencyOn(uint32_t channel) const;
  const ChannelPause* PauseOf(uint32_t channel) const;
  friend bool operator==(const Preferences&, const Preferences&) = default;
};

// Fingerprints of a stored profile, so that the store can tell whether a plan was made with
// it: 0 for none (no time zone, no segments).
uint32_t TimeZoneFingerprint(absl::string_view timezone);
uint32_t SegmentsFingerprint(const std::vector<std::string>& segments);

// Where a change comes from; numbered as sendgate.v1.Evidence.Source.
enum class ConsentSource : uint8_t {
  kPreferenceCentre = 1,
  kUnsubscribeLink = 2,
  kImport = 3,
  kSupport = 4,
  kApi = 5,
};

// An update's changes, validated and resolved against the policy (service/api builds them).
struct PreferenceChanges {
  std::optional<bool> global_opt_out;
  std::vector<SubscriptionChoice> subscriptions;
  std::vector<ChannelBlock> block;
  std::vector<uint32_t> unblock;
  std::optional<absl::Time> pause_until;
  bool clear_pause = false;
  std::vector<ContactFrequency> frequency;
  std::vector<uint32_t> clear_frequency;
  std::optional<std::string> timezone;               // "" removes it
  std::optional<std::vector<std::string>> segments;  // sorted, unique; empty removes them
  std::vector<ChannelPause> pause_channels;
  std::vector<uint32_t> resume_channels;
};

// One change of one preference, in words, for the consent trail.
struct AppliedChange {
  std::string field;
  std::string before;
  std::string after;
  friend bool operator==(const AppliedChange&, const AppliedChange&) = default;
};

// Applies `changes` to `preferences` and returns what actually changed (nothing: the update
// is a no-op, and is not stored). A suppressed contact stays suppressed, unless the change
// comes from the contact or an agent (`source` preference centre or support) and sets
// global_opt_out to false explicitly: a CRM import or an API call never re-opens the door.
std::vector<AppliedChange> Apply(const Policy& policy, const PreferenceChanges& changes,
                                 ConsentSource source, Preferences& preferences);

// What stays of `preferences` when the contact is forgotten: its opt-outs (global opt-out,
// blocked channels, subscriptions it opted out of), marked suppressed; nothing when the
// contact had opted out of nothing.
std::optional<Preferences> SuppressionOf(const Preferences& preferences);

}  // namespace sendgate::core
