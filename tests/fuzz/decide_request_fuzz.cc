// Fuzz target: a DecideRequest as the wire brings it (any bytes), parsed as sendgate parses it
// (wire.cc: the field that is not UTF-8 named) and validated against the example policy
// (request_validation.cc), as Decide and DecideStream do before anything else.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "grpcpp/support/byte_buffer.h"
#include "service/api/request_validation.h"
#include "service/api/wire.h"
#include "service/policy/loader.h"
#include "service/policy/time_zones.h"

namespace {
std::shared_ptr<const sendgate::core::Policy> policy;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!sendgate::policy::SystemTimeZones().ok()) std::abort();
  absl::StatusOr<std::shared_ptr<const sendgate::core::Policy>> loaded =
      sendgate::policy::LoadPolicyFile(std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml");
  if (!loaded.ok()) std::abort();
  policy = *loaded;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const grpc::Slice slice(data, size);
  const grpc::ByteBuffer buffer(&slice, 1);
  sendgate::v1::DecideRequest request;
  if (!sendgate::api::ParseRequest(buffer, request).ok()) return 0;
  const absl::Time now = absl::FromUnixSeconds(1796000000);  // 2026-11-30
  absl::StatusOr<sendgate::core::Message> message =
      sendgate::api::MessageFromRequest(request, *policy, now);
  if (message.ok()) {
    policy->CallerMayDeclare("sender", message->category, message->dry_run).IgnoreError();
  }
  return 0;
}
