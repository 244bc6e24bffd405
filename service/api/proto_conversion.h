// core values -> sendgate.v1 protos: decisions and pressure as the API shows them.
#pragma once

#include "google/protobuf/timestamp.pb.h"
#include "sendgate/v1/arbiter.pb.h"
#include "service/core/decision.h"
#include "service/core/policy.h"
#include "service/core/pressure.h"
#include "service/core/history.h"

namespace sendgate::api {

void ToTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp);

// Everything but message_id and contact_id, which the caller copies from the request.
void FillDecision(const core::Decision& decision, const core::Policy& policy,
                  v1::DecideResponse* response);

// The history is shown in time order, both lists together.
void FillPressure(const core::Policy& policy, const core::History& history,
                  const core::Pressure& pressure, v1::GetPressureResponse* response);

}  // namespace sendgate::api
