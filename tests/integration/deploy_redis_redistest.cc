// deploy/kubernetes/redis.yaml run for real: a redis-server with the StatefulSet's arguments and
// deploy/redis/users.acl (its hash made the way deploy/redis/README.md says), probed with the
// manifest's own readiness command. The probe must pass only when Redis answers PONG, and the
// ACL must keep out anyone without sendgate's password.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "tests/support/redis_server.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPassword[] = "deploy-test-password";

YAML::Node RedisContainer() {
  const std::string path = std::string(SENDGATE_SOURCE_DIR) + "/deploy/kubernetes/redis.yaml";
  for (const YAML::Node& document : YAML::LoadAllFromFile(path)) {
    if (document["kind"].as<std::string>() == "StatefulSet") {
      return document["spec"]["template"]["spec"]["containers"][0];
    }
  }
  ADD_FAILURE() << "redis.yaml has no StatefulSet";
  return {};
}

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return absl::BytesToHexString(std::string(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

// The shipped ACL with kPassword's hash in place of the placeholder.
std::string WriteAcl(const TempDir& dir) {
  std::ifstream shipped(std::string(SENDGATE_SOURCE_DIR) + "/deploy/redis/users.acl");
  std::string acl((std::istreambuf_iterator<char>(shipped)), {});
  absl::StrReplaceAll({{"#" + std::string(64, '0'), "#" + Sha256Hex(kPassword)}}, &acl);
  const std::string path = dir.path() + "/users.acl";
  std::ofstream(path) << acl;
  return path;
}

// The StatefulSet's arguments, the ACL file at `acl_path`, the data folder the harness's own.
std::vector<std::string> ManifestArguments(const std::string& acl_path) {
  std::vector<std::string> manifest = RedisContainer()["args"].as<std::vector<std::string>>();
  std::vector<std::string> arguments;
  for (size_t i = 0; i < manifest.size(); ++i) {
    if (manifest[i] == "--dir") {
      ++i;
    } else if (manifest[i] == "--aclfile") {
      arguments.insert(arguments.end(), {"--aclfile", acl_path});
      ++i;
    } else {
      arguments.push_back(manifest[i]);
    }
  }
  return arguments;
}

// Runs the manifest's readiness probe against `redis`; true when it exits 0.
bool ReadinessProbePasses(const RedisServer& redis) {
  std::vector<std::string> command =
      RedisContainer()["readinessProbe"]["exec"]["command"].as<std::vector<std::string>>();
  EXPECT_EQ(command.size(), 3u);
  EXPECT_EQ(command[0], "sh");
  const std::string script = absl::StrReplaceAll(
      command.at(2), {{"redis-cli ", "redis-cli -p " + std::to_string(redis.port()) + " "}});
  const int status = std::system(("sh -c '" + script + "' 2>/dev/null").c_str());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(DeployRedisTest, TheManifestsRedisIsReadyAndLetsOnlySendgateIn) {
  ASSERT_GE(sodium_init(), 0);
  TempDir dir;
  RedisServer redis(ManifestArguments(WriteAcl(dir)));
  EXPECT_TRUE(ReadinessProbePasses(redis));
  EXPECT_THAT(redis.Cli({"ping"}), HasSubstr("NOAUTH"));
  EXPECT_THAT(redis.Cli({"--user", "probe", "--pass", "probe", "get", "sg:x"}),
              HasSubstr("NOPERM"));
  EXPECT_THAT(redis.Cli({"--user", "sendgate", "--pass", "wrong", "ping"}),
              HasSubstr("NOAUTH"));  // AUTH refused, so PING is too
  EXPECT_EQ(redis.Cli({"--no-auth-warning", "--user", "sendgate", "--pass", kPassword, "set",
                       "sg:deploy", "1"}),
            "OK");
  EXPECT_THAT(redis.Cli({"--no-auth-warning", "--user", "sendgate", "--pass", kPassword, "set",
                         "other", "1"}),
              HasSubstr("NOPERM"));
  EXPECT_THAT(redis.Cli({"--no-auth-warning", "--user", "sendgate", "--pass", kPassword, "config",
                         "get", "appendonly"}),
              HasSubstr("NOPERM"));
}

TEST(DeployRedisTest, TheProbeFailsOnAnErrorReplyAndOnNoRedis) {
  TempDir dir;
  const std::string locked = dir.path() + "/locked.acl";
  std::ofstream(locked) << "user default off\n";
  RedisServer redis({"--aclfile", locked});
  EXPECT_FALSE(ReadinessProbePasses(redis)) << "NOAUTH is not ready";
  redis.Kill();
  EXPECT_FALSE(ReadinessProbePasses(redis));
}

}  // namespace
}  // namespace sendgate::testing
