#include "service/api/plan_requests.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"
#include "service/api/request_validation.h"

namespace sendgate::api {
namespace {

// `status` (an INVALID_ARGUMENT starting with its field) with the field's place in front.
absl::Status Within(absl::string_view where, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(where, ".", status.message()));
}

// INVALID_ARGUMENT naming the first field of `message` this sendgate does not know (a client
// built from a newer contract, or a typo in a hand-written request).
absl::Status CheckKnownFields(const google::protobuf::Message& message, absl::string_view where) {
  const google::protobuf::UnknownFieldSet& unknown =
      message.GetReflection()->GetUnknownFields(message);
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": unknown field number ",
                                                 unknown.field(0).number(),
                                                 " (not in sendgate.v1's contract)"));
}

// A campaign's key in the book: its id and edition.
std::string CampaignKey(absl::string_view campaign_id, absl::string_view edition) {
  return absl::StrCat(campaign_id, absl::string_view("\0", 1), edition);
}

// A planned time: within kMaxTimeOffset of now, and not in the past (a send is announced
// before it is made).
absl::StatusOr<absl::Time> PlannedAt(const google::protobuf::Timestamp& timestamp,
                                     absl::Time now) {
  absl::StatusOr<absl::Time> at = TimeFromRequest("planned_at", true, timestamp, now, now);
  if (!at.ok()) return at;
  if (*at < absl::FromUnixMillis(absl::ToUnixMillis(now))) {
    return Invalid("planned_at",
                   absl::StrCat("is ", absl::FormatTime(*at, absl::UTCTimeZone()),
                                ", in the past: a send is planned before it is made"));
  }
  return at;
}

}  // namespace

absl::Status PlanBook::Declare(const v1::PlannedCampaign& campaign, const core::Policy& policy,
                               absl::string_view caller, absl::Time now,
                               absl::string_view where) {
  if (absl::Status known = CheckKnownFields(campaign, where); !known.ok()) return known;
  if (campaign.campaign_id().empty()) return Within(where, Invalid("campaign_id", "is required"));
  core::Message message;
  if (absl::Status status = ResolveSend(campaign, policy, message); !status.ok()) {
    return Within(where, status);
  }
  if (absl::Status may = policy.CallerMayDeclare(caller, message.category, false); !may.ok()) {
    return Within(where, may);
  }
  core::PlannedSend send{.at = absl::InfinitePast(),
                         .ids = message.ids,
                         .weight = static_cast<uint16_t>(message.weight),
                         .priority = static_cast<uint8_t>(message.priority)};
  if (campaign.has_planned_at()) {
    absl::StatusOr<absl::Time> at = PlannedAt(campaign.planned_at(), now);
    if (!at.ok()) return Within(where, at.status());
    send.at = *at;
  }
  const std::string key = CampaignKey(campaign.campaign_id(), campaign.edition());
  if (campaigns_.size() >= kMaxCampaigns && !campaigns_.contains(key)) {
    return Within(where, Invalid("campaign_id", absl::StrCat("is one campaign more than the ",
                                                             kMaxCampaigns,
                                                             " one stream may declare")));
  }
  campaigns_[key] = send;
  return absl::OkStatus();
}

absl::StatusOr<PlanBook::Row> PlanBook::RowFrom(const v1::PlannedContact& row, absl::Time now,
                                                absl::string_view where) const {
  if (absl::Status known = CheckKnownFields(row, where); !known.ok()) return known;
  if (absl::Status id = CheckId("contact_id", row.contact_id()); !id.ok()) {
    return Within(where, id);
  }
  const auto campaign = campaigns_.find(CampaignKey(row.campaign_id(), row.edition()));
  if (campaign == campaigns_.end()) {
    return Within(where,
                  Invalid("campaign_id",
                          absl::StrCat("unknown campaign '", absl::CHexEscape(row.campaign_id().substr(0, 64)),
                                       row.edition().empty() ? "" : "' edition '",
                                       absl::CHexEscape(row.edition().substr(0, 64)),
                                       "': declare it in PlanRequest.campaigns earlier in the stream")));
  }
  Row out{.contact_id = row.contact_id(),
          .change = {.send = campaign->second, .withdraw = row.withdraw()}};
  out.change.send.announced = absl::FromUnixMillis(absl::ToUnixMillis(now));
  if (row.has_planned_at()) {
    absl::StatusOr<absl::Time> at = PlannedAt(row.planned_at(), now);
    if (!at.ok()) return Within(where, at.status());
    out.change.send.at = *at;
  }
  if (out.change.send.at == absl::InfinitePast()) {
    if (!row.withdraw()) {
      return Within(where, Invalid("planned_at", "is required, on the row or on its campaign"));
    }
    out.change.send.at = out.change.send.announced;  // a withdrawal needs only the identity
  }
  return out;
}

absl::StatusOr<std::vector<PlanBook::Row>> RowsFromRequest(const v1::PlanRequest& request,
                                                           const core::Policy& policy,
                                                           absl::string_view caller,
                                                           absl::Time now, PlanBook& book) {
  if (absl::Status known = CheckKnownFields(request, "request"); !known.ok()) return known;
  for (int i = 0; i < request.campaigns_size(); ++i) {
    absl::Status declared =
        book.Declare(request.campaigns(i), policy, caller, now, absl::StrCat("campaigns[", i, "]"));
    if (!declared.ok()) return declared;
  }
  std::vector<PlanBook::Row> rows;
  rows.reserve(request.contacts_size());
  for (int i = 0; i < request.contacts_size(); ++i) {
    absl::StatusOr<PlanBook::Row> row =
        book.RowFrom(request.contacts(i), now, absl::StrCat("contacts[", i, "]"));
    if (!row.ok()) return row.status();
    rows.push_back(std::move(*row));
  }
  return rows;
}

}  // namespace sendgate::api
