// The cluster specification's replies as sendgate reads them: CLUSTER SLOTS (through hiredis's
// own RESP reader, as the router gets it) and the MOVED and ASK redirections.
#include "service/store/cluster_topology.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>

#include "service/store/slots.h"

namespace sendgate::store {
namespace {

// `resp` read by hiredis's reader, as a reply from Redis.
redisReply* Read(const std::string& resp) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, resp.data(), resp.size());
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK);
  redisReaderFree(reader);
  return static_cast<redisReply*>(reply);
}

std::string Node(const std::string& ip, int port, const std::string& id) {
  return "*3\r\n$" + std::to_string(ip.size()) + "\r\n" + ip + "\r\n:" + std::to_string(port) +
         "\r\n$" + std::to_string(id.size()) + "\r\n" + id + "\r\n";
}

TEST(ClusterTopologyTest, ClusterSlotsGivesEachSlotItsPrimary) {
  const std::string resp =
      "*3\r\n"
      "*4\r\n:0\r\n:5460\r\n" +
      Node("10.0.0.1", 7001, "a") + Node("10.0.0.4", 7004, "d") + "*3\r\n:5461\r\n:10922\r\n" +
      Node("", 7002, "b") + "*3\r\n:10923\r\n:16383\r\n" + Node("10.0.0.1", 7001, "a");
  redisReply* reply = Read(resp);
  const absl::StatusOr<ClusterTopology> topology =
      ParseClusterSlots(reply, {.host = "10.0.0.9", .port = 7002});
  freeReplyObject(reply);
  ASSERT_TRUE(topology.ok()) << topology.status();
  ASSERT_EQ(topology->primaries.size(), 2u);  // 10.0.0.1:7001 serves two ranges
  EXPECT_EQ(topology->primaries[0].ToString(), "10.0.0.1:7001");
  EXPECT_EQ(topology->primaries[1].ToString(), "10.0.0.9:7002");  // "": the node asked
  EXPECT_EQ(topology->owner[0], 0);
  EXPECT_EQ(topology->owner[5460], 0);
  EXPECT_EQ(topology->owner[5461], 1);
  EXPECT_EQ(topology->owner[16383], 0);
}

TEST(ClusterTopologyTest, AnUncoveredSlotHasNoOwnerAndBadRangesAreRefused) {
  redisReply* partial = Read("*1\r\n*3\r\n:0\r\n:99\r\n" + Node("127.0.0.1", 7001, "a"));
  const absl::StatusOr<ClusterTopology> topology = ParseClusterSlots(partial, {});
  freeReplyObject(partial);
  ASSERT_TRUE(topology.ok());
  EXPECT_EQ(topology->owner[99], 0);
  EXPECT_EQ(topology->owner[100], -1);

  for (const std::string& bad :
       {"*1\r\n*3\r\n:5\r\n:1\r\n" + Node("h", 1, "a"),      // start after end
        "*1\r\n*3\r\n:0\r\n:16384\r\n" + Node("h", 1, "a"),  // past the last slot
        "*1\r\n*3\r\n:0\r\n:1\r\n" + Node("h", 70000, "a"),  // no such port
        std::string("*1\r\n*2\r\n:0\r\n:1\r\n"),             // no primary
        std::string("$2\r\nno\r\n")}) {
    redisReply* reply = Read(bad);
    EXPECT_FALSE(ParseClusterSlots(reply, {}).ok()) << bad;
    freeReplyObject(reply);
  }
  redisReply* error = Read("-ERR This instance has cluster support disabled\r\n");
  EXPECT_TRUE(absl::IsUnavailable(ParseClusterSlots(error, {}).status()));
  freeReplyObject(error);
}

TEST(ClusterTopologyTest, RedirectionsNameTheSlotAndTheNode) {
  const std::optional<Redirect> moved = ParseRedirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node.ToString(), "127.0.0.1:6381");
  const std::optional<Redirect> ask = ParseRedirect("ASK 12 redis-2.redis:6379");
  ASSERT_TRUE(ask.has_value());
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->node.host, "redis-2.redis");
  const std::optional<Redirect> v6 = ParseRedirect("MOVED 1 ::1:7000");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->node.host, "::1");
  for (const char* other : {"MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0",
                            "TRYAGAIN Multiple keys request during rehashing of slot",
                            "ERR unknown", "MOVED 1 h:1 extra"}) {
    EXPECT_FALSE(ParseRedirect(other).has_value()) << other;
  }
}

}  // namespace
}  // namespace sendgate::store
