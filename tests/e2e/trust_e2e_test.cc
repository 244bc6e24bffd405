// The binary under hostile input and hard conditions: time zones that are paths, strings that
// are not UTF-8, idle clients on the monitoring port, no file descriptors left, SIGTERM with
// calls in flight, requests stamped in the past, Redis errors, and
// thousands of random requests. Each test names the defect it guards against.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/e2e/fixture.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// These tests send strings that are not UTF-8 on purpose: the client's protobuf says so on
// every serialization. Its lines are dropped here; sendgate's own output is what is checked.
const bool kQuietClient = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

// A TCP connection to 127.0.0.1:`port` that sends nothing; closed when destroyed.
class IdleConnection {
 public:
  explicit IdleConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~IdleConnection() { close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_;
  bool connected_ = false;
};

// Polls `check` every 50 ms for up to `seconds`.
bool Eventually(const std::function<bool()>& check, double seconds = 10) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return check();
}

// Defect: a time zone was opened as a file path; "/dev/ptmx" blocked a gRPC thread forever,
// two of them hung the server, and SIGTERM no longer stopped it.
TEST_F(SendgateTest, ATimeZoneIsANameAndNeverAPath) {
  for (const char* zone : {"/dev/ptmx", "/dev/ptmx", "/etc/localtime", "Europe/../Europe/Paris",
                           "Europe/./Paris", "Europe//Paris"}) {
    v1::DecideRequest request = Email(absl::StrCat("tz-", zone));
    request.set_timezone(zone);
    v1::DecideResponse response;
    const grpc::Status status = Call(request, &response, absl::Seconds(10));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << zone;
    EXPECT_THAT(status.error_message(), StartsWith("timezone: unknown time zone")) << zone;
  }
  EXPECT_EQ(Decide(Email("after")).outcome(), v1::ALLOW);
  sendgate_->Signal(SIGTERM);
  EXPECT_EQ(sendgate_->Wait(10), 0);
}

// Defect: a stream with one request that was not valid UTF-8 ended with OK after answering
// only the requests before it.
TEST_F(SendgateTest, ARequestThatIsNotUtf8GetsItsOwnAnswerAndTheStreamGoesOn) {
  grpc::ClientContext context;
  auto stream = stub_->DecideStream(&context);
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) {
    v1::DecideRequest request = Email("s" + std::to_string(i), "c" + std::to_string(i));
    if (i == 37) request.set_contact_id("bad\xff\xfe");
    if (i == 38) request.add_segments("\xc0\xaf");
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  std::map<std::string, v1::DecideResponse> answers;
  v1::DecideResponse response;
  while (stream->Read(&response)) answers[response.message_id()] = response;
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answers.size(), static_cast<size_t>(kMessages));
  const v1::DecideResponse& bad = answers["s37"];
  EXPECT_EQ(bad.outcome(), v1::DENY);
  ASSERT_EQ(bad.reasons_size(), 1);
  EXPECT_EQ(bad.reasons(0).code(), v1::Reason::INVALID_REQUEST);
  EXPECT_EQ(bad.reasons(0).message(), "contact_id: must be valid UTF-8");
  ASSERT_EQ(answers["s38"].reasons_size(), 1);
  EXPECT_EQ(answers["s38"].reasons(0).message(), "segments[0]: must be valid UTF-8");
  EXPECT_EQ(answers["s199"].outcome(), v1::ALLOW);
}

// Defect: a unary call with such a field got UNIMPLEMENTED, with no message.
TEST_F(SendgateTest, AUnaryCallThatIsNotUtf8IsAnInvalidArgumentNamingTheField) {
  v1::DecideRequest request = Email("u1");
  request.set_channel("em\xffil");
  v1::DecideResponse response;
  const grpc::Status decide = Call(request, &response);
  EXPECT_EQ(decide.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(decide.error_message(), "channel: must be valid UTF-8");

  grpc::ClientContext cancel_context;
  v1::CancelRequest cancel;
  cancel.set_contact_id("c\xff");
  cancel.set_message_id("m");
  v1::CancelResponse cancelled;
  const grpc::Status status = stub_->Cancel(&cancel_context, cancel, &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "contact_id: must be valid UTF-8");

  grpc::ClientContext pressure_context;
  v1::GetPressureRequest pressure;
  pressure.set_contact_id("c");
  pressure.set_timezone("\xff");
  v1::GetPressureResponse shown;
  EXPECT_EQ(stub_->GetPressure(&pressure_context, pressure, &shown).error_message(),
            "timezone: must be valid UTF-8");
  EXPECT_THAT(Log(), ::testing::Not(HasSubstr("libprotobuf")));
}

// Defect: two idle connections to the monitoring port blocked /healthz, /readyz and /metrics
// for 30 s, so a liveness probe failed and Kubernetes restarted a healthy pod.
TEST_F(SendgateTest, IdleConnectionsDoNotBlockTheProbes) {
  std::vector<std::unique_ptr<IdleConnection>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<IdleConnection>(metrics_port_));
    ASSERT_TRUE(idle.back()->connected());
  }
  // HttpGet gives up after 5 s: the probes answer while the idle connections stay open.
  EXPECT_THAT(HttpGet(metrics_port_, "/healthz"), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(HttpGet(metrics_port_, "/readyz"), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(HttpGet(metrics_port_, "/metrics"), StartsWith("HTTP/1.1 200"));
}

// Defect: on SIGTERM, /readyz stayed 200 for the whole grace period, and new calls were
// cancelled. Now readiness turns 503 at once, calls in progress finish, new ones are refused
// with UNAVAILABLE, which clients retry.
TEST_F(SendgateTest, SigtermDrainsCallsInProgressAndRefusesNewOnes) {
  sendgate_->Kill();
  StartSendgate({}, {"--shutdown_grace=20s"});
  grpc::ClientContext context;
  auto stream = stub_->DecideStream(&context);
  v1::DecideResponse response;
  ASSERT_TRUE(stream->Write(Email("before", "streamer")));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.outcome(), v1::ALLOW);

  sendgate_->Signal(SIGTERM);
  EXPECT_TRUE(Eventually([&] {
    return HttpGet(metrics_port_, "/readyz").rfind("HTTP/1.1 503", 0) == 0;
  }));
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/readyz")), HasSubstr("draining"));
  v1::DecideResponse refused;
  const grpc::Status status = Call(Email("new"), &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // The stream in progress is still served, then ends normally.
  ASSERT_TRUE(stream->Write(Email("during", "streamer")));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.message_id(), "during");
  EXPECT_EQ(response.outcome(), v1::ALLOW);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(sendgate_->Wait(20), 0);
}

// Defect: a request stamped days in the past was allowed and recorded in the past, outside the
// week it is sent in.
TEST_F(SendgateTest, ARequestStampedInThePastCannotOpenRoom) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Decide(Email("w" + std::to_string(i))).outcome(), v1::ALLOW);
  for (int days : {8, 30, 300}) {
    v1::DecideRequest backdated = Email("back-" + std::to_string(days));
    *backdated.mutable_send_at() = Stamp(absl::Now() - absl::Hours(24 * days));
    const v1::DecideResponse response = Decide(backdated);
    EXPECT_NE(response.outcome(), v1::ALLOW) << days;
    ASSERT_GT(response.reasons_size(), 0) << days;
    EXPECT_EQ(response.reasons(0).rule_id(), "email-marketing-7d") << days;
  }
  // A backdated send that is allowed is recorded when it is decided, not in the past.
  const absl::Time asked = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  v1::DecideRequest late = Email("late", "fresh-contact");
  *late.mutable_send_at() = Stamp(asked - absl::Hours(24 * 40));
  EXPECT_EQ(Decide(late).outcome(), v1::ALLOW);
  grpc::ClientContext context;
  v1::GetPressureRequest request;
  request.set_contact_id("fresh-contact");
  v1::GetPressureResponse pressure;
  ASSERT_TRUE(stub_->GetPressure(&context, request, &pressure).ok());
  ASSERT_EQ(pressure.history_size(), 1);
  EXPECT_GE(FromStamp(pressure.history(0).sent_at()), asked);
}

// Defect: a Redis error that is not a time-out (WRONGTYPE, OOM) read as "could not reach its
// store in time", and Cancel said "retry" for an error a retry cannot fix.
TEST_F(SendgateTest, RedisErrorsAreNamedCountedAndMappedToTheRightStatus) {
  redis_.Cli({"HSET", "sg:{typed}:h2", "a", "b"});  // the main history key
  const v1::DecideResponse degraded = Decide(Email("t1", "typed"));
  EXPECT_TRUE(degraded.degraded());
  ASSERT_GT(degraded.reasons_size(), 0);
  EXPECT_THAT(degraded.reasons(0).message(), HasSubstr("Redis answered an error"));
  grpc::ClientContext context;
  v1::CancelRequest cancel;
  cancel.set_contact_id("typed");
  cancel.set_message_id("t1");
  v1::CancelResponse cancelled;
  EXPECT_EQ(stub_->Cancel(&context, cancel, &cancelled).error_code(),
            grpc::StatusCode::INTERNAL);
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/metrics")),
              HasSubstr("sendgate_store_errors_total{kind=\"redis_error\"} 2"));
  EXPECT_THAT(Log(), HasSubstr("WRONGTYPE"));
}

// Defect: out of file descriptors, gRPC 1.51 never accepts again, while /readyz said ready.
class OutOfFilesTest : public SendgateTest {
 protected:
  void SetUp() override {
    policy_path_ = std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml";
    StartSendgate({"prlimit", "--nofile=64:64"});
  }
};

TEST_F(OutOfFilesTest, ReadinessSaysWhenGrpcStopsAccepting) {
  ASSERT_THAT(HttpGet(metrics_port_, "/readyz"), StartsWith("HTTP/1.1 200"));
  {
    std::vector<std::unique_ptr<IdleConnection>> flood;
    for (int i = 0; i < 100; ++i) flood.push_back(std::make_unique<IdleConnection>(grpc_port_));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(Eventually([&] {
    return HttpGet(metrics_port_, "/readyz").rfind("HTTP/1.1 503", 0) == 0;
  }, 15));
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/readyz")), HasSubstr("NOT accepting"));
  EXPECT_THAT(Log(), HasSubstr("no longer accepts connections"));
}

// Random bytes in every string field and random numbers in every other one: sendgate answers
// every call (OK or INVALID_ARGUMENT, nothing else), keeps answering afterwards, does not grow
// beyond a bound, and stores nothing for a rejected request.
class RandomRequests {
 public:
  explicit RandomRequests(uint32_t seed) : random_(seed) {}

  std::string Bytes() {
    std::string out(Between(0, 300), '\0');
    const int kind = Between(0, 3);
    for (char& c : out) {
      c = kind == 0 ? static_cast<char>(Between(0, 255))            // anything
          : kind == 1 ? static_cast<char>(Between(0x20, 0x7e))      // printable
          : kind == 2 ? "/.\xc3\xa9" "Europe"[Between(0, 9)]       // path-like, UTF-8
                      : static_cast<char>(Between(0x80, 0xbf));     // continuation bytes
    }
    return out;
  }
  std::string ZoneLike() {
    std::string zone = "Europe/";
    for (int i = Between(0, 5); i > 0; --i) zone += Between(0, 1) ? "./" : "/";
    return zone + (Between(0, 1) ? "Paris" : "../Europe/Paris");
  }
  int Between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(random_); }
  int64_t Number() { return std::uniform_int_distribution<int64_t>(-(int64_t{1} << 40), int64_t{1} << 40)(random_); }

  // A request whose contact_id is `contact` (kept clean, so that what is stored can be
  // checked); every other field may be anything: in a third of the requests most fields are
  // spoiled, in the others a few, so that both valid and invalid requests are common.
  v1::DecideRequest Next(const std::string& contact, absl::Time now) {
    const double p = Chance(0.3) ? 0.4 : 0.04;
    v1::DecideRequest request;
    request.set_message_id(Chance(p) ? Bytes() : "m-" + std::to_string(Number()));
    request.set_contact_id(contact);
    request.set_channel(Chance(p) ? Bytes() : std::vector<std::string>{"email", "sms", "push"}[Between(0, 2)]);
    if (Chance(0.5)) request.set_category(Chance(p) ? Bytes() : "transactional");
    if (Chance(p)) request.set_subscription(Bytes());
    if (Chance(0.5)) request.set_program(Chance(p) ? Bytes() : "loyalty");
    if (Chance(0.5)) request.set_campaign_id(Chance(p) ? Bytes() : "c-" + std::to_string(Between(0, 9)));
    if (Chance(p)) request.set_priority(static_cast<int32_t>(Number()));
    if (Chance(p)) request.set_weight(Chance(0.5) ? Between(-5, 1005) : static_cast<int32_t>(Number()));
    for (int i = Chance(p) ? Between(0, 80) : 0; i > 0; --i) request.add_segments(Bytes());
    if (Chance(p)) request.set_timezone(Chance(0.5) ? Bytes() : ZoneLike());
    auto stamp = [&](google::protobuf::Timestamp* out) {
      const bool near = !Chance(p);
      out->set_seconds(near ? absl::ToUnixSeconds(now) + Between(-400 * 86400, 400 * 86400)
                            : Number());
      out->set_nanos(Chance(p) ? static_cast<int32_t>(Number()) : Between(0, 999999999));
    };
    if (Chance(0.5)) stamp(request.mutable_send_at());
    if (Chance(0.3)) stamp(request.mutable_expires_at());
    return request;
  }

 private:
  std::mt19937 random_;
};

TEST_F(SendgateTest, ThousandsOfRandomRequestsAreAnsweredAndLeaveNoTrace) {
  for (int i = 0; i < 300; ++i) Decide(Email("warm-" + std::to_string(i), "warm"));
  const int64_t rss_before = ResidentKilobytes(sendgate_->pid());
  RandomRequests random(20261123);
  std::vector<std::string> rejected_keys;
  std::map<grpc::StatusCode, int> codes;
  constexpr int kUnary = 3000;
  for (int i = 0; i < kUnary; ++i) {
    const std::string contact = "fz-" + std::to_string(i);
    v1::DecideResponse response;
    const grpc::Status status = Call(random.Next(contact, absl::Now()), &response);
    ++codes[status.error_code()];
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      rejected_keys.push_back("sg:{" + contact + "}:h");
      rejected_keys.push_back("sg:{" + contact + "}:e");
    }
  }
  EXPECT_EQ(codes.size(), 2u) << "only OK and INVALID_ARGUMENT";
  EXPECT_GT(codes[grpc::StatusCode::OK], 500);
  EXPECT_GT(codes[grpc::StatusCode::INVALID_ARGUMENT], 500);

  // The same kind of traffic on one stream, contact ids random too: every request answered.
  grpc::ClientContext context;
  auto stream = stub_->DecideStream(&context);
  constexpr int kStreamed = 2000;
  std::thread writer([&] {
    RandomRequests more(7);
    for (int i = 0; i < kStreamed; ++i) {
      v1::DecideRequest request = more.Next(more.Chance(0.5) ? more.Bytes() : "fs", absl::Now());
      request.set_message_id("st-" + std::to_string(i));  // to count the answers
      stream->Write(request);
    }
    stream->WritesDone();
  });
  std::set<std::string> answered;
  v1::DecideResponse response;
  while (stream->Read(&response)) answered.insert(response.message_id());
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered.size(), static_cast<size_t>(kStreamed));

  // Still answering; nothing stored for a rejected request; memory within a bound.
  EXPECT_EQ(Decide(Email("after", "after")).outcome(), v1::ALLOW);
  std::vector<std::string> exists = {"EXISTS"};
  exists.insert(exists.end(), rejected_keys.begin(), rejected_keys.end());
  EXPECT_EQ(redis_.Cli(exists), "0");
  const int64_t grown = ResidentKilobytes(sendgate_->pid()) - rss_before;
  std::printf("resident memory grew by %lld kB over %d random requests\n",
              static_cast<long long>(grown), kUnary + kStreamed);
  EXPECT_LT(grown, 64 * 1024) << "kB";
}

}  // namespace
}  // namespace sendgate::testing
