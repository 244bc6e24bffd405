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

// One record as decide.lua packs it (struct '<I6I4I4HHHI4I4HBB'), byte by byte.
TEST(HistoryCodecTest, DecodesTheDocumentedLayout) {
  const std::string record(
      "\x7b\x61\x56\xee\xa1\x01"  // at: 1795000000891 ms
      "\x08\x07\x06\x05\x04\x03\x02\x01"  // message hash 0x0102030405060708
      "\x01\x00\x02\x00\x00\x00"  // channel 1, category 2, no subscription
      "\xff\xff\xff\xff\x05\x00\x00\x00"  // program 0xffffffff, campaign 5
      "\xe8\x03\x64\x01",  // weight 1000, priority 100, denied with code 1
      kRecordBytes);
  absl::StatusOr<std::vector<core::SendRecord>> decoded = DecodeHistory(record + record);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 2u);
  const core::SendRecord expected{.at = absl::FromUnixMillis(1795000000891),
                                  .message_hash = 0x0102030405060708,
                                  .ids = {1, 2, 0, 0xffffffff, 5},
                                  .weight = 1000,
                                  .priority = 100,
                                  .denied_code = 1};
  EXPECT_EQ((*decoded)[1], expected);
  EXPECT_FALSE(DecodeHistory(record.substr(1)).ok());
}

TEST(RespCommandTest, BuildsTheWireFormat) {
  RespCommand command(3);
  command.Add("SET").Add("k").Add(int64_t{-42});
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
