#include "service/api/admin_service.h"

#include "absl/strings/str_split.h"
#include "service/api/proto_conversion.h"
#include "service/api/request_validation.h"
#include "service/api/unary_call.h"
#include "service/policy/loader.h"

namespace sendgate::api {
namespace {

constexpr size_t kMaxNameBytes = 200;

}  // namespace

absl::StatusOr<std::string> CandidateName(absl::string_view name) {
  if (name.empty()) return std::string("candidate");
  if (name.size() > kMaxNameBytes) {
    return Invalid("name", absl::StrCat("at most ", kMaxNameBytes, " bytes"));
  }
  for (const char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '/') {
      return Invalid("name", "letters, digits and . _ - / only");
    }
  }
  return std::string(name);
}

grpc::ServerUnaryReactor* AdminService::GetPolicy(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* in,
                                                  grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::GetPolicyRequest, v1::GetPolicyResponse>;
  Call* call = Call::Start(context, in, out, Method::kGetPolicy, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  const std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
  const RolloutState state = parts_.rollout.state();
  v1::GetPolicyResponse& response = call->response;
  response.set_version(policy->version);
  response.set_path(state.path);
  ToTimestamp(state.loaded_at, response.mutable_loaded_at());
  for (const core::Channel& channel : policy->channels) response.add_channels(channel.name);
  for (const core::Category& category : policy->categories) {
    response.add_categories(category.name);
  }
  for (const core::Cap& cap : policy->caps) response.add_caps(cap.id);
  response.set_last_reload_ok(state.last_reload_ok);
  response.set_last_reload_error(state.last_reload_error);
  if (const std::shared_ptr<const core::Policy> shadow = parts_.shadow.Current()) {
    response.set_shadow_version(shadow->version);
  }
  response.set_shadow_path(state.shadow_path);
  response.set_shadow_error(state.shadow_error);
  call->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ValidatePolicy(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* in,
                                                       grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::ValidatePolicyRequest, v1::ValidatePolicyResponse>;
  Call* call =
      Call::Start(context, in, out, Method::kValidatePolicy, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  absl::StatusOr<std::string> name = CandidateName(call->request.name());
  absl::Status size = call->request.policy().size() > policy::kMaxPolicyBytes
                          ? Invalid("policy", absl::StrCat("at most ", policy::kMaxPolicyBytes, " bytes"))
                          : absl::OkStatus();
  if (!name.ok() || !size.ok()) {
    const absl::Status invalid = name.ok() ? size : name.status();
    parts_.metrics.RecordInvalid(Method::kValidatePolicy, invalid);
    call->Finish(InvalidArgument(invalid));
    return reactor;
  }
  parts_.rollout.Validate(std::move(*call->request.mutable_policy()), *name,
                          [call](absl::StatusOr<std::shared_ptr<const core::Policy>> policy) {
                            v1::ValidatePolicyResponse& response = call->response;
                            response.set_valid(policy.ok());
                            if (policy.ok()) {
                              response.set_version((*policy)->version);
                            } else {
                              for (absl::string_view line : absl::StrSplit(
                                       policy.status().message(), '\n', absl::SkipEmpty())) {
                                response.add_errors(std::string(line));
                              }
                            }
                            call->Finish(grpc::Status::OK);
                          });
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::Reload(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::ReloadRequest, v1::ReloadResponse>;
  Call* call = Call::Start(context, in, out, Method::kReload, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  parts_.rollout.Reload("Admin.Reload", [call](absl::StatusOr<ReloadResult> result) {
    if (!result.ok()) {
      call->Finish(CallFailure(result.status()));
      return;
    }
    call->response.set_previous_version(result->previous_version);
    call->response.set_version(result->version);
    call->response.set_changed(result->changed);
    call->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace sendgate::api
