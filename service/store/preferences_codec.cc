#include "service/store/preferences_codec.h"

#include "absl/strings/str_cat.h"
#include "service/store/packed.h"
#include "service/store/script_contract.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

using contract::PreferenceBlock;
using contract::PreferenceChannelPause;
using contract::PreferenceFrequency;
using contract::PreferenceHead;
using contract::PreferenceSubscription;

// One entry of a layout at `base` in a byte string.
template <typename Field, size_t N>
struct Entry {
  const contract::Layout<N>& layout;
  int base;
  uint64_t Get(absl::string_view bytes, Field field) const {
    return GetLittleEndian(bytes, base + layout.Offset(field),
                           layout.bytes[static_cast<int>(field)]);
  }
  void Put(std::string& bytes, Field field, uint64_t value) const {
    PutLittleEndian(bytes, base + layout.Offset(field), layout.bytes[static_cast<int>(field)],
                    value);
  }
};

absl::Status Corrupt(absl::string_view what) {
  return StoreError(StoreErrorKind::kCorruptHistory,
                    absl::StrCat("stored preferences are corrupt: ", what));
}

int64_t Millis(absl::Time time) { return absl::ToUnixMillis(time); }

std::string EncodeProfile(const core::Preferences& preferences) {
  std::string profile(1, static_cast<char>(preferences.timezone.size()));
  profile += preferences.timezone;
  profile.push_back(static_cast<char>(preferences.segments.size()));
  for (const std::string& segment : preferences.segments) {
    profile.push_back(static_cast<char>(segment.size()));
    profile += segment;
  }
  return profile;
}

}  // namespace

std::string EncodePreferences(const core::Preferences& p) {
  const std::string profile = EncodeProfile(p);
  std::string blob(contract::kPreferenceHead.size(), '\0');
  const Entry<PreferenceHead, static_cast<size_t>(PreferenceHead::kCount)> head{
      contract::kPreferenceHead, 0};
  head.Put(blob, PreferenceHead::kFormat, contract::kPreferenceFormat);
  head.Put(blob, PreferenceHead::kFlags,
           (p.global_opt_out ? contract::kFlagOptOut : 0) |
               (p.suppressed ? contract::kFlagSuppressed : 0));
  head.Put(blob, PreferenceHead::kVersion, static_cast<uint64_t>(p.version));
  head.Put(blob, PreferenceHead::kPauseUntil, p.pause_until ? Millis(*p.pause_until) : 0);
  head.Put(blob, PreferenceHead::kTimezoneFingerprint, core::TimeZoneFingerprint(p.timezone));
  head.Put(blob, PreferenceHead::kSegmentsFingerprint, core::SegmentsFingerprint(p.segments));
  head.Put(blob, PreferenceHead::kSubscriptionCount, p.subscriptions.size());
  head.Put(blob, PreferenceHead::kBlockCount, p.blocks.size());
  head.Put(blob, PreferenceHead::kFrequencyCount, p.frequency.size());
  head.Put(blob, PreferenceHead::kProfileBytes, profile.size());
  for (const core::SubscriptionChoice& choice : p.subscriptions) {
    const int base = static_cast<int>(blob.size());
    blob.resize(base + contract::kPreferenceSubscription.size());
    const Entry<PreferenceSubscription, static_cast<size_t>(PreferenceSubscription::kCount)>
        entry{contract::kPreferenceSubscription, base};
    entry.Put(blob, PreferenceSubscription::kSubscription, choice.subscription);
    entry.Put(blob, PreferenceSubscription::kChannel, choice.channel);
    entry.Put(blob, PreferenceSubscription::kOptedIn, choice.opted_in ? 1 : 0);
  }
  for (const core::ChannelBlock& block : p.blocks) {
    const int base = static_cast<int>(blob.size());
    blob.resize(base + contract::kPreferenceBlock.size());
    const Entry<PreferenceBlock, static_cast<size_t>(PreferenceBlock::kCount)> entry{
        contract::kPreferenceBlock, base};
    entry.Put(blob, PreferenceBlock::kChannel, block.channel);
    entry.Put(blob, PreferenceBlock::kReason, static_cast<uint64_t>(block.reason));
  }
  for (const core::ContactFrequency& frequency : p.frequency) {
    const int base = static_cast<int>(blob.size());
    blob.resize(base + contract::kPreferenceFrequency.size());
    const Entry<PreferenceFrequency, static_cast<size_t>(PreferenceFrequency::kCount)> entry{
        contract::kPreferenceFrequency, base};
    entry.Put(blob, PreferenceFrequency::kChannel, frequency.channel);
    entry.Put(blob, PreferenceFrequency::kLimit, static_cast<uint64_t>(frequency.limit));
    entry.Put(blob, PreferenceFrequency::kWindowKind, static_cast<uint64_t>(frequency.window.kind));
    entry.Put(blob, PreferenceFrequency::kWindowLength,
              static_cast<uint64_t>(absl::ToInt64Milliseconds(frequency.window.length)));
  }
  blob += profile;
  blob.push_back(static_cast<char>(p.channel_pauses.size()));
  for (const core::ChannelPause& pause : p.channel_pauses) {
    const int base = static_cast<int>(blob.size());
    blob.resize(base + contract::kPreferenceChannelPause.size());
    const Entry<PreferenceChannelPause, static_cast<size_t>(PreferenceChannelPause::kCount)> entry{
        contract::kPreferenceChannelPause, base};
    entry.Put(blob, PreferenceChannelPause::kChannel, pause.channel);
    entry.Put(blob, PreferenceChannelPause::kUntil, static_cast<uint64_t>(Millis(pause.until)));
  }
  return blob;
}

absl::StatusOr<core::StoredProfile> DecodeProfile(absl::string_view blob) {
  core::StoredProfile profile;
  size_t at = 0;
  auto take = [&](size_t n) -> std::optional<absl::string_view> {
    if (at + n > blob.size()) return std::nullopt;
    absl::string_view part = blob.substr(at, n);
    at += n;
    return part;
  };
  std::optional<absl::string_view> length = take(1);
  if (!length) return Corrupt("no profile");
  std::optional<absl::string_view> zone = take(static_cast<unsigned char>((*length)[0]));
  std::optional<absl::string_view> count = zone ? take(1) : std::nullopt;
  if (!count) return Corrupt("a truncated profile");
  profile.timezone = std::string(*zone);
  for (int i = static_cast<unsigned char>((*count)[0]); i > 0; --i) {
    std::optional<absl::string_view> size = take(1);
    std::optional<absl::string_view> segment =
        size ? take(static_cast<unsigned char>((*size)[0])) : std::nullopt;
    if (!segment) return Corrupt("a truncated segment");
    profile.segments.emplace_back(*segment);
  }
  if (at != blob.size()) return Corrupt("bytes after the profile");
  return profile;
}

absl::StatusOr<core::Preferences> DecodePreferences(absl::string_view blob) {
  const int head_bytes = contract::kPreferenceHead.size();
  if (blob.size() < static_cast<size_t>(head_bytes)) return Corrupt("too short");
  const Entry<PreferenceHead, static_cast<size_t>(PreferenceHead::kCount)> head{
      contract::kPreferenceHead, 0};
  const uint64_t format = head.Get(blob, PreferenceHead::kFormat);
  if (format != contract::kPreferenceFormat &&
      format != contract::kPreferenceFormatBeforeChannelPauses) {
    return Corrupt("an unknown format");
  }
  core::Preferences p;
  const uint64_t flags = head.Get(blob, PreferenceHead::kFlags);
  p.global_opt_out = (flags & contract::kFlagOptOut) != 0;
  p.suppressed = (flags & contract::kFlagSuppressed) != 0;
  p.version = static_cast<int64_t>(head.Get(blob, PreferenceHead::kVersion));
  if (const uint64_t pause = head.Get(blob, PreferenceHead::kPauseUntil); pause != 0) {
    p.pause_until = absl::FromUnixMillis(static_cast<int64_t>(pause));
  }
  const size_t subscriptions = head.Get(blob, PreferenceHead::kSubscriptionCount);
  const size_t blocks = head.Get(blob, PreferenceHead::kBlockCount);
  const size_t frequencies = head.Get(blob, PreferenceHead::kFrequencyCount);
  const size_t profile_bytes = head.Get(blob, PreferenceHead::kProfileBytes);
  const size_t profile_at = head_bytes +
                            subscriptions * contract::kPreferenceSubscription.size() +
                            blocks * contract::kPreferenceBlock.size() +
                            frequencies * contract::kPreferenceFrequency.size();
  size_t expected = profile_at + profile_bytes;
  size_t pauses = 0;
  if (format == contract::kPreferenceFormat) {
    if (blob.size() <= expected) return Corrupt("no channel pauses");
    pauses = static_cast<unsigned char>(blob[expected]);
    expected += 1 + pauses * contract::kPreferenceChannelPause.size();
  }
  if (blob.size() != expected) return Corrupt("a wrong length");
  int base = head_bytes;
  for (size_t i = 0; i < subscriptions; ++i, base += contract::kPreferenceSubscription.size()) {
    const Entry<PreferenceSubscription, static_cast<size_t>(PreferenceSubscription::kCount)>
        entry{contract::kPreferenceSubscription, base};
    p.subscriptions.push_back(
        {.subscription = static_cast<uint32_t>(entry.Get(blob, PreferenceSubscription::kSubscription)),
         .channel = static_cast<uint32_t>(entry.Get(blob, PreferenceSubscription::kChannel)),
         .opted_in = entry.Get(blob, PreferenceSubscription::kOptedIn) != 0});
  }
  for (size_t i = 0; i < blocks; ++i, base += contract::kPreferenceBlock.size()) {
    const Entry<PreferenceBlock, static_cast<size_t>(PreferenceBlock::kCount)> entry{
        contract::kPreferenceBlock, base};
    p.blocks.push_back(
        {.channel = static_cast<uint32_t>(entry.Get(blob, PreferenceBlock::kChannel)),
         .reason = static_cast<core::BlockReason>(entry.Get(blob, PreferenceBlock::kReason))});
  }
  for (size_t i = 0; i < frequencies; ++i, base += contract::kPreferenceFrequency.size()) {
    const Entry<PreferenceFrequency, static_cast<size_t>(PreferenceFrequency::kCount)> entry{
        contract::kPreferenceFrequency, base};
    core::ContactFrequency frequency{
        .channel = static_cast<uint32_t>(entry.Get(blob, PreferenceFrequency::kChannel)),
        .limit = static_cast<int64_t>(entry.Get(blob, PreferenceFrequency::kLimit))};
    frequency.window.kind =
        static_cast<core::WindowKind>(entry.Get(blob, PreferenceFrequency::kWindowKind));
    frequency.window.length = absl::Milliseconds(
        static_cast<int64_t>(entry.Get(blob, PreferenceFrequency::kWindowLength)));
    p.frequency.push_back(frequency);
  }
  absl::StatusOr<core::StoredProfile> profile = DecodeProfile(blob.substr(base, profile_bytes));
  if (!profile.ok()) return profile.status();
  p.timezone = std::move(profile->timezone);
  p.segments = std::move(profile->segments);
  base += static_cast<int>(profile_bytes) + 1;
  for (size_t i = 0; i < pauses; ++i, base += contract::kPreferenceChannelPause.size()) {
    const Entry<PreferenceChannelPause, static_cast<size_t>(PreferenceChannelPause::kCount)> entry{
        contract::kPreferenceChannelPause, base};
    p.channel_pauses.push_back(
        {.channel = static_cast<uint32_t>(entry.Get(blob, PreferenceChannelPause::kChannel)),
         .until = absl::FromUnixMillis(
             static_cast<int64_t>(entry.Get(blob, PreferenceChannelPause::kUntil)))});
  }
  return p;
}

}  // namespace sendgate::store
