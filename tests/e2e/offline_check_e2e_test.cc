// sendgatectl's offline checks, end to end, with no sendgate running: `policy check FILE...`
// with the server's own loader, `config check FILE...` (settings and the policies they name),
// `policy diff`; and that none of them opens a connection unless --target is given.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/support/process.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPolicies = std::string(SENDGATE_SOURCE_DIR) + "/policies/";

// Runs sendgatectl from the source tree (config files name policies/... from there); its exit
// code, and its stdout and stderr in `out`.
int Ctl(const std::string& arguments, std::string* out) {
  const std::string command =
      absl::StrCat("cd ", SENDGATE_SOURCE_DIR, " && ", SENDGATECTL_BINARY, " ", arguments, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  const int status = pclose(pipe);
  *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct result;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &result).ok()) << text;
  return result;
}

std::string ExamplePolicy() {
  std::ifstream in(kPolicies + "default.yaml");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A TCP listener on 127.0.0.1:`port` that counts the connections made to it.
class Listener {
 public:
  explicit Listener(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) {
    const int yes = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listening_ = bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                 listen(fd_, 16) == 0;
  }
  ~Listener() { close(fd_); }
  bool listening() const { return listening_; }
  // The connections made since the last call (each accepted and closed).
  int Connections() {
    int count = 0;
    for (int client; (client = accept(fd_, nullptr, nullptr)) >= 0; ++count) close(client);
    return count;
  }

 private:
  int fd_;
  bool listening_ = false;
};

class OfflineCheckTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  TempDir dir_;
};

TEST_F(OfflineCheckTest, TheExamplePoliciesPass) {
  std::string out;
  EXPECT_EQ(Ctl("policy check policies/default.yaml policies/fr-retail.yaml "
                "policies/us-tcpa.yaml policies/authz.json",
                &out),
            0)
      << out;
  for (const char* line : {"policy policies/default.yaml: valid, version default-2026-12-01",
                           "policy policies/fr-retail.yaml: valid, version fr-retail-",
                           "policy policies/us-tcpa.yaml: valid, version us-tcpa-",
                           "authz_policy policies/authz.json: valid, version sendgate-example "
                           "(6 allow rules)"}) {
    EXPECT_THAT(out, HasSubstr(line));
  }
  EXPECT_EQ(Ctl("--json policy check policies/default.yaml", &out), 0) << out;
  const google::protobuf::Struct json = ParseJson(out);
  EXPECT_TRUE(json.fields().at("valid").bool_value());
  const auto& file = json.fields().at("files").list_value().values(0).struct_value().fields();
  EXPECT_EQ(file.at("version").string_value(), "default-2026-12-01");
  EXPECT_EQ(file.at("kind").string_value(), "policy");
}

TEST_F(OfflineCheckTest, BadPoliciesAreRefusedWithTheirPositions) {
  std::string policy = ExamplePolicy();
  absl::StrReplaceAll({{"    window: 7d\n    limit: 3\n",
                        "    window: 7d\n    limit: 3\n"
                        "    colour: blue\n"}},
                      &policy);
  const std::string unknown_key = Write("unknown-key.yaml", policy);
  const std::string syntax = Write("syntax.yaml", "version: v1\nchannels: [email\n");
  policy = ExamplePolicy();
  absl::StrReplaceAll(
      {{"    window: 7d\n    limit: 2\n",
        "    window: 7d\n    limit: 2\n    reserve: [{below_priority: 80, keep: 2}]\n"}},
      &policy);
  const std::string impossible = Write("impossible.yaml", policy);
  std::string out;
  EXPECT_EQ(Ctl(absl::StrCat("policy check ", unknown_key, " ", syntax, " ", impossible,
                             " policies/default.yaml"),
                &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr(unknown_key + ":90:5: unknown key 'colour'"));
  EXPECT_THAT(out, HasSubstr(syntax + ":3:1: end of sequence flow not found"));
  EXPECT_THAT(out, HasSubstr(impossible + ":99:42: a reserve of 2 is not below the cap's limit 2"));
  EXPECT_THAT(out, HasSubstr("policy policies/default.yaml: valid"));  // the others are checked
  EXPECT_EQ(Ctl("--json policy check " + syntax, &out), 1);
  EXPECT_FALSE(ParseJson(out).fields().at("valid").bool_value());
  EXPECT_EQ(Ctl("policy check " + dir_.path() + "/missing.yaml", &out), 2);
  EXPECT_THAT(out, HasSubstr("missing.yaml: cannot open the policy file"));
  EXPECT_EQ(Ctl("policy check", &out), 2);
}

TEST_F(OfflineCheckTest, ConfigFilesAndTheirPoliciesAreChecked) {
  const std::string shadow_bad = Write("shadow.yaml", "version: v1\nchannels: {email: 1}\n");
  const std::string good = Write("good.yaml",
                                 "policy: policies/default.yaml\n"
                                 "shadow_policy: policies/fr-retail.yaml\n"
                                 "authz_policy_file: policies/authz.json\n"
                                 "tls_cert_file: /etc/sendgate/tls/tls.crt\n"
                                 "tls_key_file: /etc/sendgate/tls/tls.key\n"
                                 "redis: 10.0.0.5:6379\nredis_timeout: 100ms\n");
  const std::string bad_shadow =
      Write("bad-shadow.yaml",
            absl::StrCat("policy: policies/us-tcpa.yaml\nshadow_policy: ", shadow_bad, "\n"));
  const std::string unknown =
      Write("unknown.yaml", "policy: policies/default.yaml\nredis_conections: 3\n");
  const std::string bounds = Write("bounds.yaml", "shadow_percent: 0\n");
  const std::string value = Write("value.yaml", "\nredis_timeout: soon\n");
  const std::string redis = Write("redis.yaml", "redis: localhost\n");
  const std::string no_policy = Write("no-policy.yaml", "policy: policies/none.yaml\n");
  std::string out;
  EXPECT_EQ(Ctl("config check " + good, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(good + ": valid settings"));
  EXPECT_THAT(out, HasSubstr("policy policies/default.yaml: valid, version default-2026-12-01"));
  EXPECT_THAT(out, HasSubstr("shadow_policy policies/fr-retail.yaml: valid, version fr-retail-"));
  EXPECT_THAT(out, HasSubstr("authz_policy policies/authz.json: valid"));

  EXPECT_EQ(Ctl(absl::StrCat("config check ", bad_shadow, " ", unknown, " ", bounds, " ", value,
                             " ", redis, " ", no_policy),
                &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("policy policies/us-tcpa.yaml: valid"));
  EXPECT_THAT(out, HasSubstr(shadow_bad + ":2:11: channel must be a list"));
  EXPECT_THAT(out, HasSubstr(unknown + ":2:1: unknown setting 'redis_conections'"));
  EXPECT_THAT(out, HasSubstr(bounds + ":1:1: shadow_percent must be from 1 to 100"));
  EXPECT_THAT(out,
              HasSubstr(value + ":2:1: Illegal value 'soon' specified for flag 'redis_timeout'"));
  EXPECT_THAT(out, HasSubstr(redis + ":1:1: redis must be HOST:PORT"));
  EXPECT_THAT(out, HasSubstr("policies/none.yaml: cannot open the policy file"));
  EXPECT_EQ(Ctl("config check " + dir_.path() + "/missing.yaml", &out), 2);

  // A missing shadow file is no shadow mode, as sendgate reads it.
  const std::string no_shadow =
      Write("no-shadow.yaml", "policy: policies/default.yaml\nshadow_policy: policies/none.yaml\n");
  EXPECT_EQ(Ctl("config check " + no_shadow, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("missing or empty: no shadow mode"));
}

TEST_F(OfflineCheckTest, PolicyDiffNeedsNoServer) {
  std::string policy = ExamplePolicy();
  absl::StrReplaceAll({{"    window: 7d\n    limit: 3\n", "    window: 7d\n    limit: 4\n"}},
                      &policy);
  const std::string changed = Write("changed.yaml", policy);
  std::string out;
  EXPECT_EQ(Ctl("policy diff policies/default.yaml " + changed, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("~ caps[email-marketing-7d].limit: 3 -> 4"));
}

// The checks open no connection: a listener on the default target (127.0.0.1:50051) sees none;
// given --target, policy check asks that sendgate, and the same listener sees it.
TEST_F(OfflineCheckTest, NoConnectionWithoutTarget) {
  Listener default_target(50051);
  if (!default_target.listening()) GTEST_SKIP() << "127.0.0.1:50051 is in use here";
  const std::string config = Write("config.yaml", "policy: policies/default.yaml\n");
  std::string out;
  EXPECT_EQ(Ctl("policy check policies/default.yaml", &out), 0) << out;
  EXPECT_EQ(Ctl("config check " + config, &out), 0) << out;
  EXPECT_EQ(Ctl("policy diff policies/default.yaml policies/us-tcpa.yaml", &out), 1) << out;
  EXPECT_EQ(default_target.Connections(), 0);

  // Nothing answers gRPC there: the call fails, as `sendgate unreachable`.
  EXPECT_EQ(Ctl("--target=127.0.0.1:50051 --timeout=1s policy check policies/default.yaml", &out),
            5)
      << out;
  EXPECT_GE(default_target.Connections(), 1);
  EXPECT_THAT(out, Not(HasSubstr("valid")));
}

}  // namespace
}  // namespace sendgate::testing
