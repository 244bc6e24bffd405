#include "service/api/request_validation.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/core/names.h"
#include "service/policy/time_zones.h"

namespace sendgate::api {
namespace {

// Valid UTF-8 without C0/C1 control characters or DEL.
bool IsCleanUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    int length = 0;
    uint32_t code = 0;
    if (c >= 0x20 && c < 0x7f) {  // printable ASCII, nearly every byte of every id
      ++i;
      continue;
    }
    if (c < 0x80) {
      length = 1, code = c;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2, code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      const unsigned char next = text[i + k];
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
      return false;  // overlong, out of range or a surrogate
    if (code < 0x20 || code == 0x7f || (code >= 0x80 && code < 0xa0)) return false;
    i += length;
  }
  return true;
}

}  // namespace

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return Invalid(field, absl::StrCat("is ", value.size(), " bytes long; the limit is ",
                                       max_bytes));
  }
  if (!IsCleanUtf8(value)) {
    return Invalid(field, "must be UTF-8 text without control characters");
  }
  return absl::OkStatus();
}

namespace {

template <typename T>
std::string Declared(const std::vector<T>& items) {
  return absl::StrJoin(items, ", ", [](std::string* out, const T& item) { out->append(item.name); });
}

// Index of the declared name, or an error listing what the policy declares.
template <typename T>
absl::StatusOr<int> Resolve(absl::string_view field, absl::string_view what,
                            absl::string_view name, const std::vector<T>& declared) {
  for (size_t i = 0; i < declared.size(); ++i) {
    if (declared[i].name == name) return static_cast<int>(i);
  }
  return Invalid(field, absl::StrCat("unknown ", what, " '", absl::CHexEscape(name.substr(0, 64)),
                                     "' (the policy declares: ", Declared(declared), ")"));
}

absl::StatusOr<int> IntInRange(absl::string_view field, bool present, int value, int min, int max,
                               int fallback) {
  if (!present) return fallback;
  if (value < min || value > max) {
    return Invalid(field, absl::StrCat("must be from ", min, " to ", max, ", not ", value));
  }
  return value;
}

}  // namespace

absl::StatusOr<int> ChannelFromRequest(absl::string_view field, absl::string_view name,
                                       const core::Policy& policy) {
  if (name.empty()) return Invalid(field, "is required");
  return Resolve(field, "channel", name, policy.channels);
}

absl::StatusOr<int> SubscriptionFromRequest(absl::string_view field, absl::string_view name,
                                            const core::Policy& policy) {
  if (name.empty()) return Invalid(field, "is required");
  return Resolve(field, "subscription", name, policy.subscriptions);
}

absl::Status CheckId(absl::string_view field, absl::string_view value) {
  if (value.empty()) return Invalid(field, "is required");
  return CheckText(field, value, kMaxIdBytes);
}

absl::StatusOr<absl::TimeZone> ZoneFromRequest(absl::string_view field, absl::string_view name,
                                               const core::Policy& policy) {
  if (name.empty()) return policy.default_timezone;
  // Only names of the table built at start: a name never reaches the file system.
  if (std::optional<absl::TimeZone> zone = policy::FindTimeZone(name)) return *zone;
  return Invalid(field, absl::StrCat("unknown time zone '", absl::CHexEscape(name.substr(0, 64)),
                                     "' (use an IANA name such as Europe/Paris)"));
}

absl::StatusOr<std::vector<std::string>> SegmentsFromRequest(
    const google::protobuf::RepeatedPtrField<std::string>& segments, const core::Policy& policy) {
  if (segments.size() > kMaxSegments) {
    return Invalid("segments", absl::StrCat("has ", segments.size(), " entries; the limit is ",
                                            kMaxSegments));
  }
  for (const std::string& segment : segments) {
    if (segment.empty()) return Invalid("segments", "must not contain an empty segment");
    if (absl::Status status = CheckText("segments", segment, kMaxSegmentBytes); !status.ok()) {
      return status;
    }
    if (!policy.KnowsSegment(segment)) {
      return Invalid("segments",
                     absl::StrCat("unknown segment '", absl::CHexEscape(segment.substr(0, 64)),
                                  "' (the policy declares: ", absl::StrJoin(policy.segments, ", "),
                                  ")"));
    }
  }
  std::vector<std::string> sorted(segments.begin(), segments.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return sorted;
}

absl::Status CheckCovers(const core::Policy& policy, const core::Subscription& subscription,
                         const core::Channel& channel) {
  if (subscription.Covers(channel.id)) return absl::OkStatus();
  std::vector<std::string> covered;
  for (uint32_t id : subscription.channels) {
    covered.push_back(policy.NameOf(core::Field::kChannel, id));
  }
  return Invalid("subscription",
                 absl::StrCat(subscription.name, " does not cover channel ", channel.name,
                              " (it covers: ", absl::StrJoin(covered, ", "), ")"));
}

absl::StatusOr<absl::Time> InstantFromRequest(absl::string_view field,
                                              const google::protobuf::Timestamp& timestamp) {
  if (timestamp.nanos() < 0 || timestamp.nanos() > 999999999) {
    return Invalid(field, "has nanos outside 0 to 999999999");
  }
  // Millisecond precision, as history stores it.
  return absl::FromUnixMillis(absl::ToUnixMillis(absl::FromUnixSeconds(timestamp.seconds()) +
                                                 absl::Nanoseconds(timestamp.nanos())));
}

absl::StatusOr<absl::Time> TimeFromRequest(absl::string_view field, bool present,
                                           const google::protobuf::Timestamp& timestamp,
                                           absl::Time now, absl::Time fallback) {
  if (!present) return fallback;
  absl::StatusOr<absl::Time> time = InstantFromRequest(field, timestamp);
  if (!time.ok()) return time;
  if (*time < now - kMaxTimeOffset || *time > now + kMaxTimeOffset) {
    return Invalid(field, absl::StrCat("is ", absl::FormatTime(*time, absl::UTCTimeZone()),
                                       ", more than 366 days from now"));
  }
  return time;
}

template <typename Request>
absl::Status ResolveSend(const Request& request, const core::Policy& policy,
                         core::Message& message) {
  if (request.channel().empty()) return Invalid("channel", "is required");
  absl::StatusOr<int> channel = Resolve("channel", "channel", request.channel(), policy.channels);
  if (!channel.ok()) return channel.status();
  message.channel = *channel;

  message.category = policy.default_category;
  if (!request.category().empty()) {
    absl::StatusOr<int> category = Resolve("category", "category", request.category(), policy.categories);
    if (!category.ok()) return category.status();
    message.category = *category;
  }
  if (!request.subscription().empty()) {
    absl::StatusOr<int> subscription =
        Resolve("subscription", "subscription", request.subscription(), policy.subscriptions);
    if (!subscription.ok()) return subscription.status();
    if (absl::Status covered = CheckCovers(policy, policy.subscriptions[*subscription],
                                           policy.channels[message.channel]);
        !covered.ok()) {
      return covered;
    }
  }
  for (auto [field, value] :
       {std::pair<absl::string_view, const std::string*>{"program", &request.program()},
        {"campaign_id", &request.campaign_id()},
        {"edition", &request.edition()}}) {
    if (absl::Status status = CheckText(field, *value, kMaxIdBytes); !status.ok()) return status;
  }
  if (!policy.programs.empty() && !request.program().empty()) {
    absl::StatusOr<int> program = Resolve("program", "program", request.program(), policy.programs);
    if (!program.ok()) return program.status();
    message.program = *program;
  }
  const core::Program* program =
      message.program >= 0 ? &policy.programs[message.program] : nullptr;
  message.ids = {policy.channels[message.channel].id, policy.categories[message.category].id,
                 core::FieldId(core::Field::kSubscription, request.subscription()),
                 core::FieldId(core::Field::kProgram, request.program()),
                 core::FieldId(core::Field::kCampaign, request.campaign_id()),
                 core::FieldId(core::Field::kEdition, request.edition())};

  absl::StatusOr<int> weight =
      IntInRange("weight", request.has_weight(), request.weight(), 1, kMaxWeight,
                 program != nullptr ? program->weight.value_or(1) : 1);
  if (!weight.ok()) return weight.status();
  message.weight = *weight;
  absl::StatusOr<int> priority = IntInRange("priority", request.has_priority(),
                                            request.priority(), 0, kMaxPriority,
                                            program != nullptr
                                                ? program->priority.value_or(policy.default_priority)
                                                : policy.default_priority);
  if (!priority.ok()) return priority.status();
  message.priority = *priority;
  return absl::OkStatus();
}

template absl::Status ResolveSend(const v1::DecideRequest&, const core::Policy&, core::Message&);
template absl::Status ResolveSend(const v1::PlannedCampaign&, const core::Policy&,
                                  core::Message&);

absl::StatusOr<core::Message> MessageFromRequest(const v1::DecideRequest& request,
                                                 const core::Policy& policy, absl::Time now) {
  core::Message message;
  if (absl::Status status = CheckId("message_id", request.message_id()); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckId("contact_id", request.contact_id()); !status.ok()) {
    return status;
  }
  message.message_id = request.message_id();
  message.contact_id = request.contact_id();
  if (absl::Status status = ResolveSend(request, policy, message); !status.ok()) return status;

  absl::StatusOr<std::vector<std::string>> segments =
      SegmentsFromRequest(request.segments(), policy);
  if (!segments.ok()) return segments.status();
  message.segments = std::move(*segments);
  // Left out: the contact's stored profile fills them in (the Decider; none known yet here).
  if (message.segments.empty()) message.stored_segments.emplace();
  absl::StatusOr<absl::TimeZone> zone = ZoneFromRequest("timezone", request.timezone(), policy);
  if (!zone.ok()) return zone.status();
  message.timezone = *zone;
  if (request.timezone().empty()) message.stored_timezone.emplace();

  absl::StatusOr<absl::Time> send_at = TimeFromRequest(
      "send_at", request.has_send_at(), request.send_at(), now, absl::FromUnixMillis(absl::ToUnixMillis(now)));
  if (!send_at.ok()) return send_at.status();
  message.send_at = *send_at;
  if (request.has_expires_at()) {
    absl::StatusOr<absl::Time> expires_at =
        TimeFromRequest("expires_at", true, request.expires_at(), now, now);
    if (!expires_at.ok()) return expires_at.status();
    if (*expires_at <= message.send_at) {
      return Invalid("expires_at", "must be after send_at (or now, when send_at is not set)");
    }
    message.expires_at = *expires_at;
  }
  message.dry_run = request.dry_run();
  return message;
}

}  // namespace sendgate::api
