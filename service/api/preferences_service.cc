#include "service/api/preferences_service.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "service/api/bounded_stream.h"
#include "service/api/request_validation.h"
#include "service/api/unary_call.h"
#include "service/api/wire.h"
#include "service/metrics/log.h"

namespace sendgate::api {
namespace {

using metrics::Log;
using metrics::Severity;

// Import progress is logged every this many rows.
constexpr int64_t kProgressEvery = 100000;

const char* UpdateResult(const absl::StatusOr<PreferenceUpdater::Updated>& updated) {
  if (!updated.ok()) return "failed";
  return updated->changed ? "changed" : "unchanged";
}

}  // namespace

grpc::ServerUnaryReactor* PreferencesService::Get(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* in,
                                                  grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::GetPreferencesRequest, v1::ContactPreferences>;
  Call* call = Call::Start(context, in, out, Method::kGet, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  if (absl::Status id = CheckId("contact_id", call->request.contact_id()); !id.ok()) {
    parts_.metrics.RecordInvalid(Method::kGet, id);
    call->Finish(InvalidArgument(id));
    return reactor;
  }
  std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
  const std::string& contact = call->request.contact_id();
  parts_.store.ReadPreferences(
      contact, parts_.hasher.Hash(contact), parts_.decider.StoreDeadline(CallerDeadline(context)),
      [call, policy](absl::StatusOr<store::Store::StoredPreferences> stored) {
        if (!stored.ok()) return call->Finish(CallFailure(stored.status()));
        FillPreferences(*policy, call->request.contact_id(), stored->preferences, &call->response);
        call->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* PreferencesService::Update(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* in,
                                                     grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::UpdatePreferencesRequest, v1::ContactPreferences>;
  Call* call = Call::Start(context, in, out, Method::kUpdate, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
  absl::StatusOr<PreferenceUpdate> update =
      UpdateFromRequest(call->request, *policy, parts_.clock.Now(), v1::Evidence::API);
  if (!update.ok()) {
    parts_.metrics.RecordInvalid(Method::kUpdate, update.status());
    parts_.metrics.RecordPreferenceUpdate(Method::kUpdate, "invalid");
    call->Finish(InvalidArgument(update.status()));
    return reactor;
  }
  parts_.updater.Update(
      policy, std::move(*update), parts_.decider.StoreDeadline(CallerDeadline(context)),
      [this, call, policy](absl::StatusOr<PreferenceUpdater::Updated> updated) {
        parts_.metrics.RecordPreferenceUpdate(Method::kUpdate, UpdateResult(updated));
        if (!updated.ok()) return call->Finish(CallFailure(updated.status()));
        FillPreferences(*policy, call->request.contact_id(), updated->preferences,
                        &call->response);
        call->Finish(grpc::Status::OK);
      });
  return reactor;
}

// One Import stream: reads rows while fewer than kImportInFlight updates are under way, counts
// every row as accepted or rejected, and answers the summary once the client is done and every
// row is settled.
class PreferencesService::ImportReactor final : public BoundedStream {
 public:
  ImportReactor(PreferencesService& service, const grpc::CallbackServerContext& context,
                grpc::ByteBuffer* response)
      : BoundedStream(service.parts_.admission, service.parts_.metrics, Method::kImport, context,
                      kImportInFlight),
        service_(service), response_(response) {}

 private:
  void OnRequest(const grpc::ByteBuffer& incoming) override {
    int64_t row = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      row = ++rows_;
      if (row % kProgressEvery == 0) {
        Log(Severity::kInfo, "preferences",
            absl::StrCat("import: ", rows_, " rows read, ", accepted_, " accepted, ", rejected_,
                         " rejected"));
      }
    }
    v1::ImportRow parsed;
    absl::Status status = ParseRequest(incoming, parsed);
    std::shared_ptr<const core::Policy> policy = service_.parts_.policies.Current();
    absl::StatusOr<PreferenceUpdate> update =
        status.ok() ? UpdateFromRequest(parsed, *policy, service_.parts_.clock.Now(),
                                        v1::Evidence::IMPORT)
                    : absl::StatusOr<PreferenceUpdate>(status);
    if (!update.ok()) {
      service_.parts_.metrics.RecordPreferenceUpdate(Method::kImport, "invalid");
      std::lock_guard<std::mutex> lock(mutex_);
      return Reject(row, parsed.contact_id(), update.status().message());
    }
    Begin(1);
    service_.parts_.updater.Update(
        policy, std::move(*update), service_.parts_.decider.StoreDeadline(absl::InfiniteFuture()),
        [this, row, contact = parsed.contact_id()](
            absl::StatusOr<PreferenceUpdater::Updated> updated) {
          service_.parts_.metrics.RecordPreferenceUpdate(Method::kImport, UpdateResult(updated));
          std::unique_lock<std::mutex> lock(mutex_);
          if (updated.ok()) {
            ++accepted_;
          } else {
            Reject(row, contact, CallFailure(updated.status()).error_message());
          }
          Settled(lock);
        });
  }

  grpc::Status Answer() override {
    summary_.set_accepted(accepted_);
    summary_.set_rejected(rejected_);
    Log(Severity::kInfo, "preferences",
        absl::StrCat("import done: ", rows_, " rows, ", accepted_, " accepted, ", rejected_,
                     " rejected"));
    return SerializeResponse(summary_, response_);
  }

  // A row not stored: counted, and listed while the summary has room.
  void Reject(int64_t row, const std::string& contact, absl::string_view reason) {
    ++rejected_;
    if (summary_.rejections_size() < kListedRejections) {
      v1::RowRejection* rejection = summary_.add_rejections();
      rejection->set_row(row);
      rejection->set_contact_id(contact);
      rejection->set_reason(std::string(reason));
    }
  }

  PreferencesService& service_;
  grpc::ByteBuffer* const response_;
  // Under mutex_:
  v1::ImportSummary summary_;
  int64_t rows_ = 0;
  int64_t accepted_ = 0;
  int64_t rejected_ = 0;
};

grpc::ServerReadReactor<grpc::ByteBuffer>* PreferencesService::Import(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  auto* reactor = new ImportReactor(*this, *context, response);
  reactor->Start();
  return reactor;
}

grpc::ServerUnaryReactor* PreferencesService::History(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::HistoryRequest, v1::HistoryResponse>;
  Call* call = Call::Start(context, in, out, Method::kHistory, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  if (absl::Status id = CheckId("contact_id", call->request.contact_id()); !id.ok()) {
    parts_.metrics.RecordInvalid(Method::kHistory, id);
    call->Finish(InvalidArgument(id));
    return reactor;
  }
  parts_.store.ReadConsentTrail(
      call->request.contact_id(), parts_.decider.StoreDeadline(CallerDeadline(context)),
      [call](absl::StatusOr<std::vector<std::string>> trail) {
        if (!trail.ok()) return call->Finish(CallFailure(trail.status()));
        for (const std::string& bytes : *trail) {
          if (!call->response.add_events()->ParseFromString(bytes)) {
            return call->Finish(grpc::Status(grpc::StatusCode::DATA_LOSS,
                                             "a consent event of the trail does not parse"));
          }
        }
        call->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* PreferencesService::Forget(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* in,
                                                     grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::ForgetRequest, v1::ForgetResponse>;
  Call* call = Call::Start(context, in, out, Method::kForget, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  absl::Status valid = CheckId("contact_id", call->request.contact_id());
  absl::StatusOr<v1::Evidence> evidence =
      valid.ok() ? EvidenceFromRequest(call->request.evidence(), v1::Evidence::API)
                 : absl::StatusOr<v1::Evidence>(valid);
  if (!evidence.ok()) {
    parts_.metrics.RecordInvalid(Method::kForget, evidence.status());
    call->Finish(InvalidArgument(evidence.status()));
    return reactor;
  }
  parts_.updater.Forget(
      call->request.contact_id(), std::move(*evidence),
      parts_.decider.StoreDeadline(CallerDeadline(context)),
      [this, call](absl::StatusOr<PreferenceUpdater::Forgotten> forgotten) {
        if (!forgotten.ok()) {
          parts_.metrics.RecordForget("failed");
          return call->Finish(CallFailure(forgotten.status()));
        }
        parts_.metrics.RecordForget(forgotten->erased ? "erased" : "nothing_stored");
        call->response.set_erased(forgotten->erased);
        call->response.set_suppressed(forgotten->suppressed);
        call->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace sendgate::api
