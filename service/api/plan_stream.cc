#include "service/api/plan_stream.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "service/api/bounded_stream.h"
#include "service/api/plan_requests.h"
#include "service/api/unary_call.h"
#include "service/api/wire.h"

namespace sendgate::api {
namespace {

class PlanReactor final : public BoundedStream {
 public:
  PlanReactor(const ArbiterParts& parts, grpc::CallbackServerContext* context,
              grpc::ByteBuffer* response)
      : BoundedStream(parts.admission, parts.metrics, Method::kPlan, *context, kPlanInFlight),
        parts_(parts), deadline_(CallerDeadline(context)), response_(response) {}

 private:
  void OnRequest(const grpc::ByteBuffer& incoming) override {
    ++requests_;
    v1::PlanRequest request;
    absl::Status parsed = ParseRequest(incoming, request);
    const std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
    const absl::Time now = parts_.clock.Now();
    absl::StatusOr<std::vector<PlanBook::Row>> rows =
        parsed.ok() ? RowsFromRequest(request, *policy, caller(), now, book_)
                    : absl::StatusOr<std::vector<PlanBook::Row>>(parsed);
    if (!rows.ok()) {
      if (absl::IsInvalidArgument(rows.status())) {
        parts_.metrics.RecordInvalid(Method::kPlan, rows.status());
      }
      return Stop(grpc::Status(static_cast<grpc::StatusCode>(rows.status().code()),
                               absl::StrCat(rows.status().message(), " (request ", requests_,
                                            " of the stream; the rows before it are stored)")));
    }
    Store(*rows, now, policy->plan_grace);
  }

  grpc::Status Answer() override { return SerializeResponse(response_message_, response_); }

  // One store call per contact of `rows`, its rows in order.
  void Store(const std::vector<PlanBook::Row>& rows, absl::Time now, absl::Duration grace) {
    std::map<std::string, std::vector<core::PlannedChange>> by_contact;
    for (const PlanBook::Row& row : rows) by_contact[row.contact_id].push_back(row.change);
    Begin(static_cast<int>(by_contact.size()));
    for (const auto& [contact, changes] : by_contact) {
      int64_t withdrawn = 0;
      for (const core::PlannedChange& change : changes) withdrawn += change.withdraw;
      parts_.store.PlanSends(
          contact, changes, now, grace, parts_.decider.StoreDeadline(deadline_),
          [this, planned = static_cast<int64_t>(changes.size()) - withdrawn,
           withdrawn](absl::Status stored) {
            if (!stored.ok()) parts_.metrics.RecordStoreError(stored);
            std::unique_lock<std::mutex> lock(mutex_);
            if (!stored.ok()) return Settled(lock, CallFailure(stored));
            response_message_.set_planned(response_message_.planned() + planned);
            response_message_.set_withdrawn(response_message_.withdrawn() + withdrawn);
            Settled(lock);
          });
    }
  }

  const ArbiterParts& parts_;
  const absl::Time deadline_;
  grpc::ByteBuffer* const response_;
  int64_t requests_ = 0;  // reading thread only
  PlanBook book_;         // reading thread only
  v1::PlanResponse response_message_;  // under mutex_
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* StartPlanStream(const ArbiterParts& parts,
                                                           grpc::CallbackServerContext* context,
                                                           grpc::ByteBuffer* response) {
  auto* reactor = new PlanReactor(parts, context, response);
  reactor->Start();
  return reactor;
}

}  // namespace sendgate::api
