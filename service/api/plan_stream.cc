#include "service/api/plan_stream.h"

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "service/api/plan_requests.h"
#include "service/api/unary_call.h"
#include "service/api/wire.h"
#include "service/metrics/log.h"

namespace sendgate::api {
namespace {

class PlanReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  PlanReactor(const ArbiterParts& parts, grpc::CallbackServerContext* context,
              grpc::ByteBuffer* response)
      : parts_(parts), deadline_(CallerDeadline(context)), response_(response),
        admission_(parts.admission, parts.metrics, Method::kPlan) {
    if (!admission_.admitted()) {
      Finish(ShuttingDown());
      return;
    }
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::unique_lock<std::mutex> lock(mutex_);
      stopped_ = true;
      FinishIfDone(lock);
      return;
    }
    ++requests_;
    v1::PlanRequest request;
    absl::Status parsed = ParseRequest(incoming_, request);
    incoming_.Clear();
    const std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
    const absl::Time now = parts_.clock.Now();
    absl::StatusOr<std::vector<PlanBook::Row>> rows =
        parsed.ok() ? RowsFromRequest(request, *policy, now, book_)
                    : absl::StatusOr<std::vector<PlanBook::Row>>(parsed);
    if (!rows.ok()) {
      parts_.metrics.RecordInvalid(Method::kPlan, rows.status());
      std::unique_lock<std::mutex> lock(mutex_);
      Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(rows.status().message(), " (request ", requests_,
                                     " of the stream; the rows before it are stored)")),
           lock);
      return;
    }
    Store(*rows, now, policy->plan_grace);
    std::unique_lock<std::mutex> lock(mutex_);
    ReadNext(lock);
  }

  void OnDone() override { delete this; }

 private:
  // One store call per contact of `rows`, its rows in order.
  void Store(const std::vector<PlanBook::Row>& rows, absl::Time now, absl::Duration grace) {
    std::map<std::string, std::vector<core::PlannedChange>> by_contact;
    for (const PlanBook::Row& row : rows) by_contact[row.contact_id].push_back(row.change);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_ += static_cast<int>(by_contact.size());
    }
    for (const auto& [contact, changes] : by_contact) {
      int64_t withdrawn = 0;
      for (const core::PlannedChange& change : changes) withdrawn += change.withdraw;
      parts_.store.PlanSends(
          contact, changes, now, grace, parts_.decider.StoreDeadline(deadline_),
          [this, planned = static_cast<int64_t>(changes.size()) - withdrawn,
           withdrawn](absl::Status stored) {
            std::unique_lock<std::mutex> lock(mutex_);
            --in_flight_;
            if (stored.ok()) {
              response_message_.set_planned(response_message_.planned() + planned);
              response_message_.set_withdrawn(response_message_.withdrawn() + withdrawn);
            } else {
              parts_.metrics.RecordStoreError(stored);
              if (failure_.ok()) failure_ = CallFailure(stored);
              stopped_ = true;
            }
            if (paused_ && in_flight_ < kPlanInFlight) {
              paused_ = false;
              return ReadNext(lock);
            }
            FinishIfDone(lock);
          });
    }
  }

  // Reads the next request, or pauses while too many store calls are under way.
  void ReadNext(std::unique_lock<std::mutex>& lock) {
    if (stopped_) return FinishIfDone(lock);
    if (in_flight_ >= kPlanInFlight) {
      paused_ = true;
      return;
    }
    lock.unlock();
    StartRead(&incoming_);
  }

  // Ends the stream with `status` once the calls under way have answered; no more reads.
  void Fail(grpc::Status status, std::unique_lock<std::mutex>& lock) {
    if (failure_.ok()) failure_ = std::move(status);
    stopped_ = true;
    FinishIfDone(lock);
  }

  void FinishIfDone(std::unique_lock<std::mutex>& lock) {
    if (!stopped_ || in_flight_ > 0 || finished_) return;
    finished_ = true;
    const grpc::Status status =
        failure_.ok() ? SerializeResponse(response_message_, response_) : failure_;
    admission_.code = status.error_code();
    lock.unlock();
    Finish(status);
  }

  const ArbiterParts& parts_;
  const absl::Time deadline_;
  grpc::ByteBuffer* const response_;
  StreamAdmission admission_;
  grpc::ByteBuffer incoming_;  // reading thread only
  int64_t requests_ = 0;       // reading thread only
  PlanBook book_;              // reading thread only

  std::mutex mutex_;
  v1::PlanResponse response_message_;
  grpc::Status failure_;  // OK, or the status the stream ends with
  int in_flight_ = 0;
  bool paused_ = false;
  bool stopped_ = false;  // no read will start: the client is done, or the stream failed
  bool finished_ = false;
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* StartPlanStream(const ArbiterParts& parts,
                                                           grpc::CallbackServerContext* context,
                                                           grpc::ByteBuffer* response) {
  return new PlanReactor(parts, context, response);
}

}  // namespace sendgate::api
