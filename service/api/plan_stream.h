// One Arbiter.Plan stream (a client stream of PlanRequest): each request is checked whole
// (plan_requests.h), then stored as one store call per contact it names; reading pauses while
// too many calls are under way, so an audience of millions never sits in memory. The answer
// comes once the client is done and every call has answered; the first bad request, or a store
// failure, ends the stream with its status once the calls under way have answered.
#pragma once

#include "grpcpp/grpcpp.h"
#include "service/api/arbiter_service.h"

namespace sendgate::api {

// Store calls one Plan stream may have under way before it stops reading.
inline constexpr int kPlanInFlight = 512;

// The reactor of a new Plan call; it deletes itself when the call is done.
grpc::ServerReadReactor<grpc::ByteBuffer>* StartPlanStream(const ArbiterParts& parts,
                                                           grpc::CallbackServerContext* context,
                                                           grpc::ByteBuffer* response);

}  // namespace sendgate::api
