// The rules and the API of the example policy, end to end: the sendgate binary over gRPC with a
// real redis-server (fixture.h).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"
#include "tests/e2e/fixture.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(SendgateTest, MarketingEmailsAreCappedAndDeferredToTheExactInstant) {
  for (int i = 0; i < 3; ++i) {
    v1::DecideRequest request = Email("promo-" + std::to_string(i));
    *request.mutable_send_at() = Stamp(t0_ + absl::Minutes(i));
    const v1::DecideResponse response = Decide(request);
    EXPECT_EQ(response.outcome(), v1::ALLOW);
    EXPECT_EQ(response.message_id(), "promo-" + std::to_string(i));
    EXPECT_EQ(response.policy_version(), "default-2026-12-01");
    EXPECT_FALSE(response.replayed());
  }
  const v1::DecideResponse fourth = Decide(Email("promo-3"));
  EXPECT_EQ(fourth.outcome(), v1::DEFER);
  EXPECT_EQ(FromStamp(fourth.retry_at()), t0_ + absl::Hours(24 * 7));
  ASSERT_EQ(fourth.reasons_size(), 1);
  EXPECT_EQ(fourth.reasons(0).code(), v1::Reason::CAP_REACHED);
  EXPECT_EQ(fourth.reasons(0).rule_id(), "email-marketing-7d");
  EXPECT_EQ(fourth.reasons(0).used(), 3);
  EXPECT_EQ(fourth.reasons(0).limit(), 3);
  EXPECT_THAT(fourth.reasons(0).message(),
              StartsWith("At most 3 marketing emails per rolling 7 days: 3 of 3 used; room again at"));

  // Asking again at retry_at with the same message_id: room has freed up.
  v1::DecideRequest retry = Email("promo-3");
  *retry.mutable_send_at() = fourth.retry_at();
  EXPECT_EQ(Decide(retry).outcome(), v1::ALLOW);
}

TEST_F(SendgateTest, TheRulesOfTheExamplePolicy) {
  // Inactive contacts get one marketing email a week.
  v1::DecideRequest inactive = Email("i1", "sleepy");
  inactive.add_segments("inactive");
  EXPECT_EQ(Decide(inactive).outcome(), v1::ALLOW);
  inactive.set_message_id("i2");
  EXPECT_EQ(Decide(inactive).reasons(0).limit(), 1);
  // Transactional messages pass whatever the caps say.
  v1::DecideRequest receipt = Email("r1", "sleepy");
  receipt.set_category("transactional");
  EXPECT_EQ(Decide(receipt).outcome(), v1::ALLOW);
  // The same campaign once per 30 days: room in 30 days is past max_delay (7 days): DENY.
  v1::DecideRequest launch = Email("l1", "fan");
  launch.set_campaign_id("spring-launch");
  EXPECT_EQ(Decide(launch).outcome(), v1::ALLOW);
  launch.set_message_id("l2");
  launch.set_channel("sms");
  const v1::DecideResponse again = Decide(launch);
  EXPECT_EQ(again.outcome(), v1::DENY);
  EXPECT_EQ(again.reasons(0).rule_id(), "same-campaign-30d");
  // Five marketing messages across channels, then the all-channels cap.
  for (const char* channel : {"sms", "push", "push", "push"}) {
    static int count = 0;
    v1::DecideRequest request = Email("x-" + std::to_string(count++), "fan");
    request.set_channel(channel);
    EXPECT_EQ(Decide(request).outcome(), v1::ALLOW) << channel;
  }
  v1::DecideRequest sixth = Email("sixth", "fan");
  sixth.set_channel("push");
  EXPECT_EQ(Decide(sixth).reasons(0).rule_id(), "all-marketing-7d");
}

// The request's edition: an abandoned cart's three steps go, the same step again does not; the
// history shows each send's edition.
TEST_F(SendgateTest, AScenariosStepsAreEditionsOfItsCampaign) {
  for (int step = 1; step <= 3; ++step) {
    v1::DecideRequest request = Email("cart-" + std::to_string(step), "shopper");
    request.set_campaign_id("abandoned-cart");
    request.set_edition("step-" + std::to_string(step));
    *request.mutable_send_at() = Stamp(t0_ + absl::Hours(step));
    EXPECT_EQ(Decide(request).outcome(), v1::ALLOW) << step;
  }
  v1::DecideRequest again = Email("cart-1-again", "shopper");
  again.set_channel("sms");
  again.set_campaign_id("abandoned-cart");
  again.set_edition("step-1");
  const v1::DecideResponse refused = Decide(again);
  EXPECT_EQ(refused.outcome(), v1::DENY);
  ASSERT_EQ(refused.reasons_size(), 1);
  EXPECT_EQ(refused.reasons(0).rule_id(), "same-campaign-30d");
  again.set_edition(std::string(257, 'e'));
  v1::DecideResponse invalid;
  const grpc::Status status = Call(again, &invalid);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("edition: is 257 bytes long"));

  grpc::ClientContext context;
  v1::GetPressureRequest request;
  request.set_contact_id("shopper");
  v1::GetPressureResponse pressure;
  ASSERT_TRUE(stub_->GetPressure(&context, request, &pressure).ok());
  ASSERT_EQ(pressure.history_size(), 4);  // three sends, one denial
  std::set<std::string> editions;
  for (const v1::SendRecord& record : pressure.history()) {
    EXPECT_THAT(record.edition(), StartsWith("#"));
    editions.insert(record.edition());
  }
  EXPECT_EQ(editions.size(), 3u);
}

// Quiet hours over gRPC: marketing SMS 08:00-20:00 every day in the contact's zone. An SMS for
// 03:00 Paris time waits until 08:00 that day, with the rule and the next opening in its reason.
TEST_F(SendgateTest, QuietHoursDeferAnSmsToTheMorning) {
  std::ifstream in(policy_path_);
  std::string text(std::istreambuf_iterator<char>(in), {});
  text += "quiet_hours:\n  - id: sms-hours\n    channels: [sms]\n    categories: [marketing]\n"
          "    allowed: {daily: [\"08:00-20:00\"]}\n";
  std::ofstream(policy_path_, std::ios::trunc) << text;
  sendgate_.reset();
  StartSendgate();
  absl::TimeZone paris;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Paris", &paris));
  const absl::CivilDay day = absl::ToCivilDay(absl::Now(), paris) + 2;
  v1::DecideRequest sms = Email("night-sms");
  sms.set_channel("sms");
  sms.set_timezone("Europe/Paris");
  *sms.mutable_send_at() = Stamp(absl::FromCivil(absl::CivilMinute(day) + 3 * 60, paris));
  const v1::DecideResponse answer = Decide(sms);
  EXPECT_EQ(answer.outcome(), v1::DEFER);
  EXPECT_EQ(FromStamp(answer.retry_at()), absl::FromCivil(absl::CivilMinute(day) + 8 * 60, paris));
  ASSERT_EQ(answer.reasons_size(), 1);
  EXPECT_EQ(answer.reasons(0).code(), v1::Reason::QUIET_HOURS);
  EXPECT_EQ(answer.reasons(0).rule_id(), "sms-hours");
  EXPECT_THAT(answer.reasons(0).message(), ::testing::HasSubstr("Allowed daily 08:00-20:00"));
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/metrics")),
              ::testing::HasSubstr(
                  "sendgate_decision_reasons_total{code=\"quiet_hours\",rule=\"sms-hours\"} 1\n"));
  // Nothing was counted: the same SMS at 09:00 is allowed.
  *sms.mutable_send_at() = Stamp(absl::FromCivil(absl::CivilMinute(day) + 9 * 60, paris));
  EXPECT_EQ(Decide(sms).outcome(), v1::ALLOW);
}

// Priority headroom over gRPC: the third marketing email of the week is kept for priority 80
// and above.
TEST_F(SendgateTest, TheLastEmailOfTheWeekIsKeptForAHigherPriority) {
  std::ifstream in(policy_path_);
  std::string text(std::istreambuf_iterator<char>(in), {});
  const std::string limit = "    limit: 3\n";
  text.insert(text.find(limit) + limit.size(),
              "    reserve: {below_priority: 80, keep: 1}\n");
  std::ofstream(policy_path_, std::ios::trunc) << text;
  sendgate_.reset();
  StartSendgate();
  EXPECT_EQ(Decide(Email("n1")).outcome(), v1::ALLOW);
  EXPECT_EQ(Decide(Email("n2")).outcome(), v1::ALLOW);
  const v1::DecideResponse third = Decide(Email("n3"));
  EXPECT_EQ(third.outcome(), v1::DEFER);
  ASSERT_GE(third.reasons_size(), 1);
  EXPECT_EQ(third.reasons(0).code(), v1::Reason::LOWER_PRIORITY);
  EXPECT_EQ(third.reasons(0).rule_id(), "email-marketing-7d");
  EXPECT_EQ(third.reasons(0).used(), 2);
  EXPECT_EQ(third.reasons(0).limit(), 3);
  v1::DecideRequest cart = Email("cart");
  cart.set_priority(90);
  EXPECT_EQ(Decide(cart).outcome(), v1::ALLOW);
}

// Programs over gRPC: a declared program gives its priority; an undeclared one is refused.
TEST_F(SendgateTest, DeclaredProgramsAreTheOnlyOnesAccepted) {
  std::ifstream in(policy_path_);
  std::string text(std::istreambuf_iterator<char>(in), {});
  const std::string limit = "    limit: 3\n";
  text.insert(text.find(limit) + limit.size(), "    reserve: {below_priority: 80, keep: 1}\n");
  text += "programs:\n  abandoned-cart: {priority: 85, max_delay: 6h}\n";
  std::ofstream(policy_path_, std::ios::trunc) << text;
  sendgate_.reset();
  StartSendgate();
  EXPECT_EQ(Decide(Email("n1")).outcome(), v1::ALLOW);
  EXPECT_EQ(Decide(Email("n2")).outcome(), v1::ALLOW);
  // The cart's program priority (85) reaches the reserve a plain campaign (50) cannot.
  v1::DecideRequest cart = Email("cart");
  cart.set_program("abandoned-cart");
  EXPECT_EQ(Decide(cart).outcome(), v1::ALLOW);
  v1::DecideRequest typo = Email("typo");
  typo.set_program("abandoned_cart");
  v1::DecideResponse response;
  const grpc::Status status = Call(typo, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "program: unknown program 'abandoned_cart' (the policy declares: abandoned-cart)");
}

TEST_F(SendgateTest, InvalidRequestsNameTheField) {
  struct Case {
    std::function<void(v1::DecideRequest&)> spoil;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.clear_contact_id(); }, "contact_id: is required"},
      {[](auto& r) { r.clear_message_id(); }, "message_id: is required"},
      {[](auto& r) { r.set_contact_id(std::string(300, 'x')); }, "contact_id: is 300 bytes"},
      {[](auto& r) { r.set_contact_id("a\x01"); }, "contact_id: must be UTF-8 text"},
      {[](auto& r) { r.set_channel("fax"); }, "channel: unknown channel 'fax'"},
      {[](auto& r) { r.set_category("promo"); }, "category: unknown category 'promo'"},
      {[](auto& r) { r.set_subscription("x"); }, "subscription: unknown subscription 'x'"},
      {[](auto& r) { r.set_weight(0); }, "weight: must be from 1 to 1000, not 0"},
      {[](auto& r) { r.set_weight(-5); }, "weight: must be from 1 to 1000, not -5"},
      {[](auto& r) { r.set_weight(1000000); }, "weight: must be from 1 to 1000"},
      {[](auto& r) { r.set_priority(101); }, "priority: must be from 0 to 100"},
      {[](auto& r) { r.set_timezone("Nowhere/City"); }, "timezone: unknown time zone"},
      {[this](auto& r) { *r.mutable_expires_at() = Stamp(t0_ - absl::Minutes(1)); },
       "expires_at: must be after send_at"},
      {[](auto& r) { r.mutable_send_at()->set_seconds(4102444800); }, "send_at: is 2100-01-01"},
  };
  for (const Case& each : cases) {
    v1::DecideRequest request = Email("bad");
    each.spoil(request);
    v1::DecideResponse response;
    const grpc::Status status = Call(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << each.field;
    EXPECT_THAT(status.error_message(), StartsWith(each.field));
  }
  // Nothing was recorded by any of them.
  EXPECT_EQ(redis_.Cli({"KEYS", "sg:{*"}), "");  // no contact key
}

TEST_F(SendgateTest, ReplaysAndCancel) {
  EXPECT_EQ(Decide(Email("once")).outcome(), v1::ALLOW);
  const v1::DecideResponse replay = Decide(Email("once"));
  EXPECT_EQ(replay.outcome(), v1::ALLOW);
  EXPECT_TRUE(replay.replayed());

  grpc::ClientContext context;
  v1::CancelRequest cancel;
  cancel.set_contact_id("contact-1");
  cancel.set_message_id("once");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(stub_->Cancel(&context, cancel, &cancelled).ok());
  EXPECT_TRUE(cancelled.cancelled());
  grpc::ClientContext again;
  ASSERT_TRUE(stub_->Cancel(&again, cancel, &cancelled).ok());
  EXPECT_FALSE(cancelled.cancelled());
  grpc::ClientContext invalid;
  cancel.clear_contact_id();
  EXPECT_EQ(stub_->Cancel(&invalid, cancel, &cancelled).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Forgotten by the cancel: deciding it again counts it again, as a first decision.
  const v1::DecideResponse fresh = Decide(Email("once"));
  EXPECT_EQ(fresh.outcome(), v1::ALLOW);
  EXPECT_FALSE(fresh.replayed());
}

TEST_F(SendgateTest, GetPressureShowsHistoryUsageAndRoom) {
  for (int i = 0; i < 3; ++i) {
    v1::DecideRequest request = Email("p" + std::to_string(i));
    request.set_campaign_id("c" + std::to_string(i));
    Decide(request);
  }
  grpc::ClientContext context;
  v1::GetPressureRequest request;
  request.set_contact_id("contact-1");
  *request.mutable_at() = Stamp(t0_ + absl::Hours(1));
  v1::GetPressureResponse pressure;
  ASSERT_TRUE(stub_->GetPressure(&context, request, &pressure).ok());
  ASSERT_EQ(pressure.history_size(), 3);
  EXPECT_EQ(pressure.history(0).channel(), "email");
  EXPECT_EQ(pressure.history(0).category(), "marketing");
  EXPECT_EQ(FromStamp(pressure.history(0).sent_at()), t0_);
  std::map<std::string, int64_t> used;
  for (const v1::CapUsage& cap : pressure.caps()) used[cap.rule_id() + cap.partition()] += cap.used();
  EXPECT_EQ(used["email-marketing-7d"], 3);
  EXPECT_EQ(used["all-marketing-7d"], 3);
  EXPECT_EQ(pressure.caps_size(), 3 + 3);  // one usage per campaign for same-campaign-30d
  ASSERT_EQ(pressure.channels_size(), 3);
  EXPECT_EQ(pressure.channels(0).channel(), "email");
  EXPECT_EQ(FromStamp(pressure.channels(0).next_allowed_at()), t0_ + absl::Hours(24 * 7));
  EXPECT_EQ(FromStamp(pressure.channels(1).next_allowed_at()), t0_ + absl::Hours(1));
}

TEST_F(SendgateTest, DecideStreamAnswersEveryMessage) {
  grpc::ClientContext context;
  auto stream = stub_->DecideStream(&context);
  constexpr int kMessages = 3000;
  std::thread writer([&] {
    for (int i = 0; i < kMessages; ++i) {
      v1::DecideRequest request = Email("s" + std::to_string(i), "c" + std::to_string(i % 500));
      if (i == 1234) request.set_channel("carrier-pigeon");
      stream->Write(request);
    }
    stream->WritesDone();
  });
  std::set<std::string> answered;
  std::map<v1::Outcome, int> outcomes;
  int degraded = 0;
  v1::DecideResponse response;
  while (stream->Read(&response)) {
    EXPECT_TRUE(answered.insert(response.message_id()).second) << response.message_id();
    ++outcomes[response.outcome()];
    if (response.degraded()) ++degraded;
    if (response.message_id() == "s1234") {
      EXPECT_EQ(response.outcome(), v1::DENY);
      EXPECT_EQ(response.reasons(0).code(), v1::Reason::INVALID_REQUEST);
      EXPECT_THAT(response.reasons(0).message(), HasSubstr("channel: unknown channel"));
    }
  }
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(degraded, 0);
  // 500 contacts, 6 emails each: 3 allowed, 3 deferred (one is the invalid request).
  EXPECT_EQ(outcomes[v1::ALLOW], 1500);
  EXPECT_EQ(outcomes[v1::DEFER], 1499);
  EXPECT_EQ(outcomes[v1::DENY], 1);
}

TEST_F(SendgateTest, SixtyFourConcurrentCallsForOneContactAllowExactlyFive) {
  std::vector<std::future<v1::Outcome>> calls;
  for (int i = 0; i < 64; ++i) {
    calls.push_back(std::async(std::launch::async, [this, i] {
      v1::DecideRequest request = Email("push-" + std::to_string(i), "busy");
      request.set_channel("push");  // only all-marketing-7d (5) applies to push
      return Decide(request).outcome();
    }));
  }
  int allowed = 0;
  for (auto& call : calls) allowed += call.get() == v1::ALLOW ? 1 : 0;
  EXPECT_EQ(allowed, 5);
}

TEST_F(SendgateTest, RedisDownFollowsTheFailModesWithoutHanging) {
  redis_.Kill();
  v1::DecideRequest promo = Email("down-1");
  v1::DecideResponse deferred;
  ASSERT_TRUE(Call(promo, &deferred, absl::Milliseconds(500)).ok());
  EXPECT_EQ(deferred.outcome(), v1::DEFER);
  EXPECT_TRUE(deferred.degraded());
  EXPECT_EQ(deferred.reasons(0).code(), v1::Reason::STORE_UNAVAILABLE);
  v1::DecideRequest receipt = Email("down-2");
  receipt.set_category("transactional");
  v1::DecideResponse allowed;
  ASSERT_TRUE(Call(receipt, &allowed, absl::Milliseconds(500)).ok());
  EXPECT_EQ(allowed.outcome(), v1::ALLOW);
  EXPECT_TRUE(allowed.degraded());

  redis_.Start();
  WaitForRedis();
  const v1::DecideResponse back = Decide(Email("up-1"));
  EXPECT_EQ(back.outcome(), v1::ALLOW) << back.DebugString();
  EXPECT_FALSE(back.degraded());
}

TEST_F(SendgateTest, ASlowRedisIsAnsweredWithinTheCallersDeadline) {
  redis_.Pause();
  v1::DecideResponse response;
  // Shorter than --redis_timeout (250 ms): the caller's deadline rules.
  const grpc::Status status = Call(Email("slow"), &response, absl::Milliseconds(150));
  redis_.Resume();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), v1::DEFER);
  EXPECT_TRUE(response.degraded());
}

TEST_F(SendgateTest, HealthAndReflection) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  const grpc::ByteBuffer empty = ToBuffer("");
  grpc::ByteBuffer health;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &empty,
                    &health, [&](grpc::Status status) { done.set_value(status); });
  ASSERT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(ToString(health), std::string("\x08\x01"));  // status: SERVING

  grpc::CompletionQueue queue;
  grpc::ClientContext reflection_context;
  auto call = generic.PrepareCall(&reflection_context,
                                  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                  &queue);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(queue.Next(&tag, &ok) && ok);
  call->Write(ToBuffer(std::string("\x3a\x00", 2)), reinterpret_cast<void*>(2));  // list_services
  ASSERT_TRUE(queue.Next(&tag, &ok) && ok);
  grpc::ByteBuffer services;
  call->Read(&services, reinterpret_cast<void*>(3));
  ASSERT_TRUE(queue.Next(&tag, &ok) && ok);
  EXPECT_THAT(ToString(services), HasSubstr("sendgate.v1.Arbiter"));
  EXPECT_THAT(ToString(services), HasSubstr("grpc.health.v1.Health"));
  call->WritesDone(reinterpret_cast<void*>(4));
  queue.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  queue.Next(&tag, &ok);
}

TEST_F(SendgateTest, MetricsPassPromtoolAndCountDecisions) {
  Decide(Email("m1"));
  v1::DecideResponse response;
  v1::DecideRequest bad = Email("m2");
  bad.set_weight(0);
  Call(bad, &response);
  const std::string metrics = Body(HttpGet(metrics_port_, "/metrics"));
  EXPECT_THAT(metrics, HasSubstr(
      "sendgate_decisions_total{category=\"marketing\",channel=\"email\",outcome=\"allow\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_invalid_requests_total{field=\"weight\",method=\"Decide\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_grpc_requests_total{code=\"OK\",method=\"Decide\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_policy_info{version=\"default-2026-12-01\"} 1"));
  const std::string path = dir_.path() + "/metrics.txt";
  std::ofstream(path) << metrics;
  EXPECT_EQ(std::system(("promtool check metrics < " + path).c_str()), 0);
  EXPECT_THAT(HttpGet(metrics_port_, "/healthz"), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(HttpGet(metrics_port_, "/readyz"), StartsWith("HTTP/1.1 200"));
}

TEST_F(SendgateTest, SighupReloadsThePolicyAndRefusesABadOne) {
  std::string text;
  {
    std::ifstream in(policy_path_);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write_policy = [&](const std::string& content) { std::ofstream(policy_path_) << content; };
  const std::string version = "version: \"default-2026-12-01\"";
  write_policy(text.replace(text.find(version), version.size(), "version: \"v2\""));
  sendgate_->Signal(SIGHUP);
  std::string seen;
  for (int i = 0; i < 200 && seen != "v2"; ++i) {
    seen = Decide(Email("r" + std::to_string(i), "c" + std::to_string(i))).policy_version();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(seen, "v2");

  write_policy("channels: [email]\ncaps: oops\n");
  sendgate_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Decide(Email("after-bad")).policy_version(), "v2");
  const std::string logged = Log();
  EXPECT_THAT(logged, HasSubstr("reload refused (SIGHUP), keeping version v2"));
  EXPECT_THAT(logged, HasSubstr("policy.yaml:2:7: caps must be a list of caps"));
}

TEST_F(SendgateTest, SigtermShutsDownCleanly) {
  Decide(Email("last"));  // the client stays connected: shutdown waits up to the grace
  sendgate_->Signal(SIGTERM);
  EXPECT_EQ(sendgate_->Wait(10), 0);
}

TEST(SendgateStartTest, ABadPolicyStopsTheProcessWithItsErrors) {
  TempDir dir;
  const std::string policy = dir.path() + "/bad.yaml";
  std::ofstream(policy) << "channels: [email]\ncategories: {marketing: {}}\ncaps:\n  - id: x\n    window: 7 days\n    limit: 3\n";
  Process check({SENDGATE_BINARY, "--policy=" + policy, "--check_policy"}, dir.path() + "/out.log");
  EXPECT_EQ(check.Wait(10), 1);
  std::ifstream log(dir.path() + "/out.log");
  const std::string out(std::istreambuf_iterator<char>(log), {});
  EXPECT_THAT(out, HasSubstr("bad.yaml:5:13: window must be a rolling duration"));
}

// Runs `sendgate ARGS --check_policy` in `dir`: its exit status and what it printed.
std::pair<int, std::string> CheckPolicy(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), SENDGATE_BINARY);
  args.push_back("--check_policy");
  const std::string out_path = dir.path() + "/out.log";
  std::ofstream(out_path, std::ios::trunc).flush();
  Process check(args, out_path);
  const int status = check.Wait(10);
  std::ifstream log(out_path);
  return {status, std::string(std::istreambuf_iterator<char>(log), {})};
}

TEST(SendgateStartTest, AConfigFileSetsTheFlagsAndTheCommandLineWins) {
  TempDir dir;
  const std::string config = dir.path() + "/sendgate.yaml";
  std::ofstream(config) << "redis-timeout: 100ms\npolicy: " << SENDGATE_SOURCE_DIR
                        << "/policies/fr-retail.yaml\nshadow_policy:\n";
  auto [status, out] = CheckPolicy(dir, {"--config=" + config});
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("fr-retail.yaml: ok"));

  std::tie(status, out) = CheckPolicy(
      dir, {"--config=" + config, std::string("--policy=") + SENDGATE_SOURCE_DIR + "/policies/default.yaml"});
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("default.yaml: ok"));
}

TEST(SendgateStartTest, ABadConfigFileNamesTheLineAndTheSetting) {
  TempDir dir;
  const std::string config = dir.path() + "/sendgate.yaml";
  std::ofstream(config) << "listen: 127.0.0.1:1\nredis_conections: 4\n";
  auto [status, out] = CheckPolicy(dir, {"--config=" + config});
  EXPECT_EQ(status, 2);
  EXPECT_THAT(out, HasSubstr("sendgate.yaml:2:1: unknown setting 'redis_conections'"));

  std::ofstream(config, std::ios::trunc) << "policy_watch_interval: 5s\nredis_timeout: soon\n";
  std::tie(status, out) = CheckPolicy(dir, {"--config=" + config});
  EXPECT_EQ(status, 2);
  EXPECT_THAT(out, HasSubstr("sendgate.yaml:2:1: "));
  EXPECT_THAT(out, HasSubstr("'soon'"));

  std::ofstream(config, std::ios::trunc) << "redis_connections: [1, 2]\n";
  std::tie(status, out) = CheckPolicy(dir, {"--config=" + config});
  EXPECT_EQ(status, 2);
  EXPECT_THAT(out, HasSubstr("sendgate.yaml:1:1: redis_connections: not a single value"));

  std::ofstream(config, std::ios::trunc) << "redis_connections: 0\n";
  std::tie(status, out) = CheckPolicy(dir, {"--config=" + config});
  EXPECT_EQ(status, 2);
  EXPECT_THAT(out, HasSubstr("redis_connections must be from 1 to 64"));
}

}  // namespace
}  // namespace sendgate::testing
