// The pieces of the Redis store that need no Redis: the history record layout, the RESP
// command builder and SHA-1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/core/names.h"
#include "service/store/history_codec.h"
#include "service/store/resp.h"
#include "service/store/script.h"
#include "service/store/sha1.h"

namespace sendgate::store {
namespace {

TEST(HistoryCodecTest, RecordsRoundTripIn32Bytes) {
  core::SendRecord record{.at = absl::FromUnixMillis(1795000000123),
                          .message_hash = core::MessageHash("m-1"),
                          .ids = {1, 2, 0, 0xffffffff, 5},
                          .weight = 1000,
                          .priority = 100,
                          .denied_code = 1};
  const std::string blob = EncodeHistory({record, record});
  EXPECT_EQ(blob.size(), 2 * kRecordBytes);
  EXPECT_EQ(blob.substr(6, 8), PackedHash(record.message_hash));
  absl::StatusOr<std::vector<core::SendRecord>> decoded = DecodeHistory(blob);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)[1], record);
  EXPECT_FALSE(DecodeHistory(blob.substr(1)).ok());
}

TEST(RespCommandTest, BuildsTheWireFormat) {
  RespCommand command(3);
  command.Add("SET").Add("k").Add(int64_t{-42});
  EXPECT_TRUE(command.complete());
  EXPECT_EQ(command.wire(), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n-42\r\n");
}

TEST(ScriptTest, EvalReplacesEvalshaKeepingTheArguments) {
  RespCommand command(4);
  command.Add("EVALSHA").Add(DecideScript().sha1).Add(0).Add("x");
  const std::string eval = EvalInsteadOfEvalsha(command.wire(), DecideScript());
  RespCommand expected(4);
  expected.Add("EVAL").Add(DecideScript().source).Add(0).Add("x");
  EXPECT_EQ(eval, expected.wire());
}

TEST(Sha1Test, MatchesTheStandardVectors) {
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Sha1Hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

}  // namespace
}  // namespace sendgate::store
