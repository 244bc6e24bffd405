// Requests arrive as bytes (raw gRPC methods) and are parsed here rather than by gRPC. Protobuf
// refuses a whole message when one string field is not valid UTF-8, and gRPC then fails the
// call with no message (UNIMPLEMENTED on a unary call; on a stream, the stream ends early with
// OK, its later requests never read). Parsed here, such a request becomes INVALID_ARGUMENT
// naming the field, and a stream answers it and goes on.
#pragma once

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace sendgate::api {

// Parses `buffer` into `request`. OK, or INVALID_ARGUMENT: "<field>: must be valid UTF-8"
// when a string field is not (the request then holds every other field, and that one empty),
// or "request: ..." when the bytes are not a message of that type at all.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message& request);

// Serializes `response` into `buffer` for a raw method's answer.
grpc::Status SerializeResponse(const google::protobuf::Message& response,
                               grpc::ByteBuffer* buffer);

}  // namespace sendgate::api
