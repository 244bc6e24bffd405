#include "tests/e2e/fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"

namespace sendgate::testing {

google::protobuf::Timestamp Stamp(absl::Time time) {
  google::protobuf::Timestamp stamp;
  stamp.set_seconds(absl::ToUnixSeconds(time));
  return stamp;
}

absl::Time FromStamp(const google::protobuf::Timestamp& stamp) {
  return absl::FromUnixSeconds(stamp.seconds()) + absl::Nanoseconds(stamp.nanos());
}

std::string HttpGet(int port, const std::string& path, absl::Duration timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const timeval limit = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[8192];
  while (ssize_t n = read(fd, buffer, sizeof(buffer))) {
    if (n < 0) break;
    response.append(buffer, n);
  }
  close(fd);
  return response;
}

std::string Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

int64_t ResidentKilobytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    int64_t kilobytes = 0;
    const size_t digits = line.find_first_of("0123456789");
    if (digits != std::string::npos &&
        absl::SimpleAtoi(line.substr(digits, line.find(' ', digits) - digits), &kilobytes)) {
      return kilobytes;
    }
  }
  return -1;
}

bool RedisAclMode() {
  const char* mode = std::getenv("SENDGATE_E2E_REDIS_ACL");
  return mode != nullptr && std::string(mode) == "1";
}

std::vector<std::string> RedisArguments(const TempDir& dir, bool with_acl) {
  std::vector<std::string> arguments = {"--appendonly", "yes"};
  if (!with_acl) return arguments;
  std::ifstream shipped(std::string(SENDGATE_SOURCE_DIR) + "/deploy/redis/users.acl");
  std::string acl((std::istreambuf_iterator<char>(shipped)), {});
  // The SHA-256 of kRedisAclPassword, and the harness's own user instead of `default off`.
  absl::StrReplaceAll(
      {{"#0000000000000000000000000000000000000000000000000000000000000000",
        "#bc795f3168b74efedf60fdd8176b5e58e7f50e2fbb95828904c1a6076239940e"},
       {"user default off", "user default on nopass ~* &* +@all"}},
      &acl);
  const std::string path = dir.path() + "/users.acl";
  std::ofstream(path) << acl;
  std::ofstream(dir.path() + "/redis.password") << kRedisAclPassword << "\n";
  arguments.insert(arguments.end(), {"--aclfile", path});
  return arguments;
}

void SendgateTest::SetUp() {
  policy_path_ = dir_.path() + "/policy.yaml";
  std::filesystem::copy_file(std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml",
                             policy_path_);
  StartSendgate();
}

void SendgateTest::TearDown() {
  if (HasFailure()) std::cerr << "--- sendgate log ---\n" << Log() << "--------------------\n";
}

std::string SendgateTest::Log() const {
  std::ifstream log(log_path());
  return std::string(std::istreambuf_iterator<char>(log), {});
}

void SendgateTest::StartSendgate(std::vector<std::string> launcher,
                                 std::vector<std::string> extra) {
  grpc_port_ = FreePort();
  metrics_port_ = FreePort();
  const std::string key = dir_.path() + "/suppression.key";
  std::ofstream(key) << "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
  std::vector<std::string> argv = std::move(launcher);
  for (std::string flag : {std::string(SENDGATE_BINARY), "--policy=" + policy_path_,
                           "--redis=" + RedisAddress(),
                           "--listen=127.0.0.1:" + std::to_string(grpc_port_),
                           "--metrics-listen=127.0.0.1:" + std::to_string(metrics_port_),
                           std::string("--shutdown_grace=1s"),
                           "--suppression_key_file=" + key}) {
    argv.push_back(flag);
  }
  if (RedisAclMode()) {
    argv.insert(argv.end(),
                {"--redis_user=sendgate", "--redis_password_file=" + dir_.path() + "/redis.password"});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  sendgate_ = std::make_unique<Process>(argv, log_path());
  ASSERT_TRUE(WaitForPort(grpc_port_, 20)) << "sendgate did not start";
  channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                 grpc::InsecureChannelCredentials());
  stub_ = v1::Arbiter::NewStub(channel_);
  WaitForRedis();
}

void SendgateTest::WaitForRedis() {
  for (int i = 0; i < 300; ++i) {
    if (Body(HttpGet(metrics_port_, "/metrics")).find("\nsendgate_store_up 1\n") !=
        std::string::npos)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "sendgate did not connect to Redis";
}

v1::DecideRequest SendgateTest::Email(const std::string& id, const std::string& contact) {
  v1::DecideRequest request;
  request.set_message_id(id);
  request.set_contact_id(contact);
  request.set_channel("email");
  *request.mutable_send_at() = Stamp(t0_);
  return request;
}

grpc::Status SendgateTest::Call(const v1::DecideRequest& request, v1::DecideResponse* response,
                                absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return stub_->Decide(&context, request, response);
}

double SendgateTest::Metric(const std::string& series) {
  const std::string body = Body(HttpGet(metrics_port_, "/metrics"));
  const std::regex line("\n" + series + " ([0-9.e+]+)\n");
  std::smatch match;
  double value = -1;
  if (std::regex_search(body, match, line)) absl::SimpleAtod(match[1].str(), &value);
  return value;
}

v1::DecideResponse SendgateTest::Decide(const v1::DecideRequest& request) {
  v1::DecideResponse response;
  const grpc::Status status = Call(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  return response;
}

}  // namespace sendgate::testing
