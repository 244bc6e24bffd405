// The sendgate binary as its users meet it: started with policies/default.yaml and a real
// redis-server, called over gRPC on loopback, scraped over HTTP, signalled like a deployment.
// Shared by the e2e test files.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace sendgate::testing {

google::protobuf::Timestamp Stamp(absl::Time time);
absl::Time FromStamp(const google::protobuf::Timestamp& stamp);

// GET `path` on 127.0.0.1:`port` (HTTP/1.0): the whole response, or "" when nothing answers
// within `timeout`.
std::string HttpGet(int port, const std::string& path, absl::Duration timeout = absl::Seconds(5));
// The body of an HTTP response.
std::string Body(const std::string& response);

std::string ToString(const grpc::ByteBuffer& buffer);
grpc::ByteBuffer ToBuffer(const std::string& bytes);

// The resident memory of a process, in kB (VmRSS).
int64_t ResidentKilobytes(pid_t pid);

// With SENDGATE_E2E_REDIS_ACL=1 in the environment, the tests' Redis loads the shipped ACL
// (deploy/redis/users.acl) and sendgate authenticates as its user `sendgate`, so every RPC a
// test makes runs with only the commands and keys that ACL allows (the harness keeps a
// `default` user of its own to look at Redis). These are the ctest entries *_redis_acl.
bool RedisAclMode();
inline constexpr char kRedisAclPassword[] = "sendgate-e2e-redis-password";
// The redis-server arguments of a test's Redis: the append-only file on, and with `acl` the
// shipped ACL file (a copy in `dir`, with the password kRedisAclPassword in `dir`/redis.password).
std::vector<std::string> RedisArguments(const TempDir& dir, bool acl = RedisAclMode());

class SendgateTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::string log_path() const { return dir_.path() + "/sendgate.log"; }
  std::string Log() const;

  // Starts sendgate with the test's policy and Redis; `launcher` goes before the binary
  // (prlimit ...), `extra` after the standard flags.
  void StartSendgate(std::vector<std::string> launcher = {}, std::vector<std::string> extra = {});
  // What --redis says: the test's Redis (a cluster test gives its nodes).
  virtual std::string RedisAddress() const { return redis_.address(); }
  void WaitForRedis();

  v1::DecideRequest Email(const std::string& id, const std::string& contact = "contact-1");
  grpc::Status Call(const v1::DecideRequest& request, v1::DecideResponse* response,
                    absl::Duration timeout = absl::Seconds(5));
  v1::DecideResponse Decide(const v1::DecideRequest& request);
  // The value of one series on /metrics (`series` a regex: name{labels}), or -1.
  double Metric(const std::string& series);

  TempDir dir_;
  RedisServer redis_{RedisArguments(dir_)};
  std::string policy_path_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<Process> sendgate_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Arbiter::Stub> stub_;
  // Whole seconds, two hours from now: the tests pick send times near it.
  const absl::Time t0_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) + absl::Hours(2);
};

}  // namespace sendgate::testing
