#include "service/api/proto_conversion.h"

#include <algorithm>

#include "sendgate/v1/preferences.pb.h"
#include "service/core/names.h"
#include "service/core/preferences.h"

namespace sendgate::api {
namespace {

// core's enums carry the proto's numbers: checked here, where one becomes the other.
#define SENDGATE_SAME_NUMBER(core_value, proto_value) \
  static_assert(static_cast<int>(core_value) == static_cast<int>(proto_value))
SENDGATE_SAME_NUMBER(core::ReasonCode::kCapReached, v1::Reason::CAP_REACHED);
SENDGATE_SAME_NUMBER(core::ReasonCode::kExpired, v1::Reason::EXPIRED);
SENDGATE_SAME_NUMBER(core::ReasonCode::kStoreUnavailable, v1::Reason::STORE_UNAVAILABLE);
SENDGATE_SAME_NUMBER(core::ReasonCode::kInvalidRequest, v1::Reason::INVALID_REQUEST);
SENDGATE_SAME_NUMBER(core::ReasonCode::kUnsubscribed, v1::Reason::UNSUBSCRIBED);
SENDGATE_SAME_NUMBER(core::ReasonCode::kNotOptedIn, v1::Reason::NOT_OPTED_IN);
SENDGATE_SAME_NUMBER(core::ReasonCode::kOptedOut, v1::Reason::OPTED_OUT);
SENDGATE_SAME_NUMBER(core::ReasonCode::kChannelBlocked, v1::Reason::CHANNEL_BLOCKED);
SENDGATE_SAME_NUMBER(core::ReasonCode::kSuppressed, v1::Reason::SUPPRESSED);
SENDGATE_SAME_NUMBER(core::ReasonCode::kPaused, v1::Reason::PAUSED);
SENDGATE_SAME_NUMBER(core::ReasonCode::kContactFrequency, v1::Reason::CONTACT_FREQUENCY);
SENDGATE_SAME_NUMBER(core::ReasonCode::kQuietHours, v1::Reason::QUIET_HOURS);
SENDGATE_SAME_NUMBER(core::ReasonCode::kLowerPriority, v1::Reason::LOWER_PRIORITY);
SENDGATE_SAME_NUMBER(core::ReasonCode::kCapacity, v1::Reason::CAPACITY);
SENDGATE_SAME_NUMBER(core::ReasonCode::kNotPermitted, v1::Reason::NOT_PERMITTED);
SENDGATE_SAME_NUMBER(core::BlockReason::kUnsubscribed, v1::BlockedChannel::UNSUBSCRIBED);
SENDGATE_SAME_NUMBER(core::BlockReason::kHardBounce, v1::BlockedChannel::HARD_BOUNCE);
SENDGATE_SAME_NUMBER(core::BlockReason::kComplaint, v1::BlockedChannel::COMPLAINT);
SENDGATE_SAME_NUMBER(core::BlockReason::kManual, v1::BlockedChannel::MANUAL);
SENDGATE_SAME_NUMBER(core::ConsentSource::kPreferenceCentre, v1::Evidence::PREFERENCE_CENTRE);
SENDGATE_SAME_NUMBER(core::ConsentSource::kUnsubscribeLink, v1::Evidence::UNSUBSCRIBE_LINK);
SENDGATE_SAME_NUMBER(core::ConsentSource::kImport, v1::Evidence::IMPORT);
SENDGATE_SAME_NUMBER(core::ConsentSource::kSupport, v1::Evidence::SUPPORT);
SENDGATE_SAME_NUMBER(core::ConsentSource::kApi, v1::Evidence::API);
#undef SENDGATE_SAME_NUMBER

using core::Field;

v1::Outcome ToOutcome(core::Outcome outcome) {
  switch (outcome) {
    case core::Outcome::kAllow: return v1::ALLOW;
    case core::Outcome::kDeny: return v1::DENY;
    case core::Outcome::kDefer: return v1::DEFER;
  }
  return v1::OUTCOME_UNSPECIFIED;
}

void FillRecord(const core::Policy& policy, const core::SendRecord& record,
                v1::SendRecord* out) {
  ToTimestamp(record.at, out->mutable_sent_at());
  out->set_channel(policy.NameOf(Field::kChannel, record.id(Field::kChannel)));
  out->set_category(policy.NameOf(Field::kCategory, record.id(Field::kCategory)));
  out->set_subscription(policy.NameOf(Field::kSubscription, record.id(Field::kSubscription)));
  out->set_program(policy.NameOf(Field::kProgram, record.id(Field::kProgram)));
  out->set_campaign(policy.NameOf(Field::kCampaign, record.id(Field::kCampaign)));
  out->set_edition(policy.NameOf(Field::kEdition, record.id(Field::kEdition)));
  out->set_weight(record.weight);
  out->set_priority(record.priority);
  out->set_message_hash(core::HexId(record.message_hash, 16).substr(1));
  out->set_denied(!record.counted());
}

}  // namespace

void ToTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp->set_seconds(absl::ToUnixSeconds(time));
  timestamp->set_nanos(static_cast<int32_t>(nanos - absl::ToUnixSeconds(time) * 1000000000));
}

void FillDecision(const core::Decision& decision, const core::Policy& policy,
                  v1::DecideResponse* response) {
  response->set_outcome(ToOutcome(decision.outcome));
  for (const core::Reason& reason : decision.reasons) {
    v1::Reason* out = response->add_reasons();
    out->set_code(static_cast<v1::Reason::Code>(reason.code));
    out->set_rule_id(reason.rule_id);
    out->set_used(reason.used);
    out->set_limit(reason.limit);
    out->set_message(reason.message);
  }
  if (decision.retry_at.has_value()) ToTimestamp(*decision.retry_at, response->mutable_retry_at());
  response->set_policy_version(policy.version);
  response->set_replayed(decision.replayed);
  response->set_degraded(decision.degraded);
}

void FillPressure(const core::Policy& policy, const core::History& history,
                  const core::Pressure& pressure, v1::GetPressureResponse* response) {
  std::vector<core::SendRecord> records = history.main;
  records.insert(records.end(), history.exempt.begin(), history.exempt.end());
  std::stable_sort(records.begin(), records.end(),
                   [](const core::SendRecord& a, const core::SendRecord& b) { return a.at < b.at; });
  for (const core::SendRecord& record : records) FillRecord(policy, record, response->add_history());
  for (const core::CapUsage& usage : pressure.caps) {
    const core::Cap& cap = policy.caps[usage.cap];
    v1::CapUsage* out = response->add_caps();
    out->set_rule_id(cap.id);
    out->set_description(cap.description);
    out->set_partition(usage.partition);
    out->set_used(usage.used);
    out->set_limit(usage.limit);
    ToTimestamp(usage.start, out->mutable_window_start());
    ToTimestamp(usage.end, out->mutable_window_end());
  }
  for (const core::ChannelRoom& room : pressure.channels) {
    v1::ChannelRoom* out = response->add_channels();
    out->set_channel(policy.channels[room.channel].name);
    if (room.next_allowed.has_value()) ToTimestamp(*room.next_allowed, out->mutable_next_allowed_at());
  }
  std::vector<core::PlannedSend> planned = history.planned;
  std::stable_sort(planned.begin(), planned.end(),
                   [](const core::PlannedSend& a, const core::PlannedSend& b) { return a.at < b.at; });
  for (const core::PlannedSend& send : planned) {
    v1::PlannedSendRecord* out = response->add_planned();
    ToTimestamp(send.at, out->mutable_planned_at());
    ToTimestamp(send.announced, out->mutable_announced_at());
    out->set_channel(policy.NameOf(Field::kChannel, send.id(Field::kChannel)));
    out->set_category(policy.NameOf(Field::kCategory, send.id(Field::kCategory)));
    out->set_campaign(policy.NameOf(Field::kCampaign, send.id(Field::kCampaign)));
    out->set_edition(policy.NameOf(Field::kEdition, send.id(Field::kEdition)));
    out->set_priority(send.priority);
    out->set_weight(send.weight);
  }
  response->set_policy_version(policy.version);
}

}  // namespace sendgate::api
