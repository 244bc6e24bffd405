// Requests parsed from the wire by sendgate rather than gRPC: a string field that is not UTF-8
// is named, the rest of the request kept; bytes that are no message are refused as such.
#include "service/api/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "sendgate/v1/arbiter.pb.h"

namespace sendgate::api {
namespace {

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A DecideRequest on the wire, with `marker` (in a string field) replaced by invalid UTF-8.
grpc::ByteBuffer Spoiled(const v1::DecideRequest& request, const std::string& marker) {
  return Buffer(absl::StrReplaceAll(request.SerializeAsString(), {{marker, "\xff\xfe\xfd"}}));
}

v1::DecideRequest Valid() {
  v1::DecideRequest request;
  request.set_message_id("m-1");
  request.set_contact_id("c-1");
  request.set_channel("email");
  request.add_segments("reactive");
  request.add_segments("ZZZ");
  return request;
}

TEST(WireTest, AValidRequestParses) {
  v1::DecideRequest parsed;
  ASSERT_TRUE(ParseRequest(Buffer(Valid().SerializeAsString()), parsed).ok());
  EXPECT_EQ(parsed.contact_id(), "c-1");
}

TEST(WireTest, AStringThatIsNotUtf8IsNamedAndTheRestKept) {
  v1::DecideRequest request = Valid();
  request.set_contact_id("XXX");
  v1::DecideRequest parsed;
  absl::Status status = ParseRequest(Spoiled(request, "XXX"), parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "contact_id: must be valid UTF-8");
  EXPECT_EQ(parsed.message_id(), "m-1");
  EXPECT_EQ(parsed.contact_id(), "");

  status = ParseRequest(Spoiled(Valid(), "ZZZ"), parsed);
  EXPECT_EQ(status.message(), "segments[1]: must be valid UTF-8");
  EXPECT_EQ(parsed.segments(0), "reactive");
}

TEST(WireTest, BytesThatAreNoMessageAreRefusedAsSuch) {
  v1::DecideRequest parsed;
  const absl::Status status = ParseRequest(Buffer("\xff\xff\xff\xff"), parsed);
  EXPECT_EQ(status.message(), "request: is not a valid sendgate.v1.DecideRequest message");
}

TEST(WireTest, AResponseSerializes) {
  v1::DecideResponse response;
  response.set_message_id("m-1");
  grpc::ByteBuffer buffer;
  ASSERT_TRUE(SerializeResponse(response, &buffer).ok());
  v1::DecideResponse back;
  ASSERT_TRUE(ParseRequest(buffer, back).ok());
  EXPECT_EQ(back.message_id(), "m-1");
}

}  // namespace
}  // namespace sendgate::api
