// Arbiter.Plan's requests checked field by field: the campaigns a stream declares, and its rows
// as changes of a contact's planned sends. Errors are INVALID_ARGUMENT as request_validation.h's,
// the field named with its place in the request: "contacts[3].planned_at: is ... in the past".
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sendgate/v1/arbiter.pb.h"
#include "service/core/history.h"
#include "service/core/policy.h"

namespace sendgate::api {

// The campaigns one Plan stream has declared, by campaign id and edition: what its rows refer to.
class PlanBook {
 public:
  // At most this many campaigns in one stream (a hostile stream never grows it without bound).
  static constexpr size_t kMaxCampaigns = 10000;

  // A contact's change, as a row asks for it.
  struct Row {
    std::string contact_id;
    core::PlannedChange change;
  };

  // Checks `campaign` against `policy`, and against what it lets `caller` send
  // (PERMISSION_DENIED), and declares it (again: the later declaration counts). `where` names
  // it in errors ("campaigns[2]"); `now` is the server's clock.
  absl::Status Declare(const v1::PlannedCampaign& campaign, const core::Policy& policy,
                       absl::string_view caller, absl::Time now, absl::string_view where);

  // The change `row` asks for, announced at `now`.
  absl::StatusOr<Row> RowFrom(const v1::PlannedContact& row, absl::Time now,
                              absl::string_view where) const;

 private:
  // A declared campaign: its planned send, at InfinitePast when it gives no planned_at.
  absl::flat_hash_map<std::string, core::PlannedSend> campaigns_;
};

// Every campaign of `request` declared into `book` for `caller`, then every row as a change:
// or the first error (an unknown field, a campaign or row that does not check, a category the
// caller may not send).
absl::StatusOr<std::vector<PlanBook::Row>> RowsFromRequest(const v1::PlanRequest& request,
                                                           const core::Policy& policy,
                                                           absl::string_view caller,
                                                           absl::Time now, PlanBook& book);

}  // namespace sendgate::api
