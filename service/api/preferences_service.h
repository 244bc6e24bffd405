// sendgate.v1.Preferences over gRPC's callback API, on raw methods as the Arbiter (wire.h):
// validation (preference_requests.h), the read-apply-write of PreferenceUpdater, and
// conversion. Import reads its rows with a bounded number of updates in flight, so a stream of
// millions of rows never holds more than that in memory.
#pragma once

#include "sendgate/v1/preferences.grpc.pb.h"
#include "service/api/admission.h"
#include "service/api/clock.h"
#include "service/api/decider.h"
#include "service/api/decision_metrics.h"
#include "service/api/policy_holder.h"
#include "service/api/preference_updater.h"
#include "service/store/store.h"

namespace sendgate::api {

struct PreferencesParts {
  PreferenceUpdater& updater;
  store::Store& store;
  const ContactHasher& hasher;
  const Decider& decider;  // for store deadlines
  const PolicyHolder& policies;
  const Clock& clock;
  DecisionMetrics& metrics;
  Admission& admission;
};

using RawPreferencesService = v1::Preferences::WithRawCallbackMethod_Get<
    v1::Preferences::WithRawCallbackMethod_Update<
        v1::Preferences::WithRawCallbackMethod_Import<v1::Preferences::WithRawCallbackMethod_History<
            v1::Preferences::WithRawCallbackMethod_Forget<v1::Preferences::Service>>>>>;

class PreferencesService final : public RawPreferencesService {
 public:
  // Import rows being stored at once, per stream.
  static constexpr int kImportInFlight = 64;
  // Rejections an ImportSummary lists (all are counted).
  static constexpr int kListedRejections = 100;

  explicit PreferencesService(PreferencesParts parts) : parts_(parts) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* Import(grpc::CallbackServerContext* context,
                                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* History(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Forget(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  class ImportReactor;

  PreferencesParts parts_;
};

}  // namespace sendgate::api
