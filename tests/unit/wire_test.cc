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

// A request gRPC hands over in several slices (a large one, or one read in pieces) parses the
// same, a bad string still named.
TEST(WireTest, ARequestInSeveralSlicesParses) {
  auto sliced = [](const std::string& bytes) {
    std::vector<grpc::Slice> slices;
    for (size_t at = 0; at < bytes.size(); at += 7) slices.emplace_back(bytes.substr(at, 7));
    return grpc::ByteBuffer(slices.data(), slices.size());
  };
  v1::DecideRequest parsed;
  const grpc::ByteBuffer buffer = sliced(Valid().SerializeAsString());
  grpc::Slice single;
  ASSERT_FALSE(buffer.TrySingleSlice(&single).ok());
  ASSERT_TRUE(ParseRequest(buffer, parsed).ok());
  EXPECT_EQ(parsed.contact_id(), "c-1");
  EXPECT_THAT(parsed.segments(), testing::ElementsAre("reactive", "ZZZ"));

  const absl::Status status = ParseRequest(
      sliced(absl::StrReplaceAll(Valid().SerializeAsString(), {{"ZZZ", "\xff\xfe\xfd"}})),
      parsed);
  EXPECT_EQ(status.message(), "segments[1]: must be valid UTF-8");
}

// The bytes of the response are protobuf's own serialization, in one slice, whatever its size.
TEST(WireTest, AResponseSerializes) {
  v1::DecideResponse response;
  response.set_message_id("m-1");
  response.set_outcome(v1::DEFER);
  for (int i = 0; i < 40; ++i) {
    v1::Reason* reason = response.add_reasons();
    reason->set_code(v1::Reason::CAP_REACHED);
    reason->set_message(std::string(50, static_cast<char>('a' + i % 26)));
  }
  for (const v1::DecideResponse& each : {response, v1::DecideResponse()}) {
    grpc::ByteBuffer buffer;
    ASSERT_TRUE(SerializeResponse(each, &buffer).ok());
    grpc::Slice slice;
    ASSERT_TRUE(buffer.TrySingleSlice(&slice).ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(slice.begin()), slice.size()),
              each.SerializeAsString());
    v1::DecideResponse back;
    ASSERT_TRUE(ParseRequest(buffer, back).ok());
    EXPECT_EQ(back.reasons_size(), each.reasons_size());
  }
}

}  // namespace
}  // namespace sendgate::api
