// sendgate.v1.Preferences end to end: the binary with policies/default.yaml and a real Redis,
// every RPC and every error a preference centre or a CRM meets, and Decide honouring what was
// stored. The Import test sends SENDGATE_IMPORT_ROWS rows (20 000 by default; the benchmark
// sends a million) with 1% bad rows, and checks the summary exactly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sendgate/v1/preferences.grpc.pb.h"
#include "tests/e2e/fixture.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class PreferencesE2eTest : public SendgateTest {
 protected:
  void SetUp() override {
    SendgateTest::SetUp();
    preferences_ = v1::Preferences::NewStub(channel_);
  }

  grpc::Status Update(const v1::UpdatePreferencesRequest& request,
                      v1::ContactPreferences* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return preferences_->Update(&context, request, response);
  }

  v1::ContactPreferences Get(const std::string& contact) {
    grpc::ClientContext context;
    v1::GetPreferencesRequest request;
    request.set_contact_id(contact);
    v1::ContactPreferences response;
    const grpc::Status status = preferences_->Get(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static v1::UpdatePreferencesRequest OptIn(const std::string& contact,
                                            const std::string& subscription,
                                            const std::string& channel, bool opted_in = true) {
    v1::UpdatePreferencesRequest request;
    request.set_contact_id(contact);
    request.mutable_evidence()->set_source(v1::Evidence::PREFERENCE_CENTRE);
    request.mutable_evidence()->set_actor("contact");
    request.mutable_evidence()->set_text_version("form-7");
    v1::SubscriptionChoice* choice = request.add_subscriptions();
    choice->set_subscription(subscription);
    choice->set_channel(channel);
    choice->set_opted_in(opted_in);
    return request;
  }

  v1::DecideRequest Newsletter(const std::string& id, const std::string& contact) {
    v1::DecideRequest request = Email(id, contact);
    request.set_subscription("newsletter");
    return request;
  }

  std::unique_ptr<v1::Preferences::Stub> preferences_;
};

// A call centre records a refusal as 60 days of silence on one channel: that channel's
// marketing waits (PAUSED, rule_id the channel), the others go.
TEST_F(PreferencesE2eTest, APauseOfOneChannelHoldsOnlyThatChannel) {
  v1::UpdatePreferencesRequest refusal;
  refusal.set_contact_id("callee");
  refusal.mutable_evidence()->set_source(v1::Evidence::SUPPORT);
  v1::ChannelPause* pause = refusal.add_pause_channels();
  pause->set_channel("sms");
  const absl::Time until = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) +
                           absl::Hours(24 * 60);
  *pause->mutable_until() = Stamp(until);
  v1::ContactPreferences stored;
  ASSERT_TRUE(Update(refusal, &stored).ok());
  ASSERT_EQ(stored.channel_pauses_size(), 1);
  EXPECT_EQ(stored.channel_pauses(0).channel(), "sms");
  EXPECT_EQ(Get("callee").channel_pauses(0).until().seconds(), absl::ToUnixSeconds(until));
  v1::DecideRequest sms = Email("s1", "callee");
  sms.set_channel("sms");
  const v1::DecideResponse held = Decide(sms);
  EXPECT_EQ(held.outcome(), v1::DENY);  // 60 days is past the policy's 7-day maximum delay
  ASSERT_EQ(held.reasons_size(), 1);
  EXPECT_EQ(held.reasons(0).code(), v1::Reason::PAUSED);
  EXPECT_EQ(held.reasons(0).rule_id(), "sms");
  EXPECT_EQ(Decide(Email("e1", "callee")).outcome(), v1::ALLOW);

  pause->set_channel("fax");
  EXPECT_THAT(Update(refusal, &stored).error_message(),
              StartsWith("pause_channels[0].channel: unknown channel 'fax'"));
  pause->set_channel("sms");
  *pause->mutable_until() = Stamp(absl::Now() - absl::Hours(1));
  EXPECT_THAT(Update(refusal, &stored).error_message(),
              StartsWith("pause_channels[0].until: must be in the future"));
  v1::UpdatePreferencesRequest resume;
  resume.set_contact_id("callee");
  resume.add_resume_channels("sms");
  ASSERT_TRUE(Update(resume, &stored).ok());
  EXPECT_EQ(stored.channel_pauses_size(), 0);
  sms.set_message_id("s2");
  EXPECT_EQ(Decide(sms).outcome(), v1::ALLOW);
}

TEST_F(PreferencesE2eTest, UpdateGetAndDecideHonourTheChoices) {
  // Opt-in regime: nothing stored means no newsletter.
  EXPECT_EQ(Decide(Newsletter("n0", "ana")).reasons(0).code(), v1::Reason::NOT_OPTED_IN);
  v1::ContactPreferences stored;
  ASSERT_TRUE(Update(OptIn("ana", "newsletter", "email"), &stored).ok());
  EXPECT_EQ(stored.version(), 1);
  ASSERT_EQ(stored.subscriptions_size(), 1);
  EXPECT_EQ(stored.subscriptions(0).subscription(), "newsletter");
  EXPECT_TRUE(stored.subscriptions(0).opted_in());
  EXPECT_EQ(Decide(Newsletter("n1", "ana")).outcome(), v1::ALLOW);

  // Block SMS after a complaint, pause, and a weekly email limit of 1; then read it all back.
  v1::UpdatePreferencesRequest more;
  more.set_contact_id("ana");
  v1::BlockedChannel* block = more.add_block_channels();
  block->set_channel("sms");
  block->set_reason(v1::BlockedChannel::COMPLAINT);
  v1::FrequencyLimit* limit = more.add_frequency();
  limit->set_channel("email");
  limit->set_limit(1);
  limit->set_window("calendar week");
  more.set_timezone("America/New_York");
  more.mutable_segments()->add_segments("reactive");
  ASSERT_TRUE(Update(more, &stored).ok());
  const v1::ContactPreferences got = Get("ana");
  EXPECT_EQ(got.version(), 2);
  EXPECT_EQ(got.blocked_channels(0).reason(), v1::BlockedChannel::COMPLAINT);
  EXPECT_EQ(got.frequency(0).window(), "calendar week");
  EXPECT_EQ(got.timezone(), "America/New_York");
  EXPECT_EQ(got.segments(0), "reactive");

  v1::DecideRequest sms = Email("s1", "ana");
  sms.set_channel("sms");
  sms.set_category("transactional");
  EXPECT_EQ(Decide(sms).reasons(0).code(), v1::Reason::CHANNEL_BLOCKED);
  const v1::DecideResponse second = Decide(Newsletter("n2", "ana"));
  EXPECT_EQ(second.outcome(), v1::DEFER);
  EXPECT_EQ(second.reasons(0).code(), v1::Reason::CONTACT_FREQUENCY);

  v1::UpdatePreferencesRequest pause;
  pause.set_contact_id("bo");
  *pause.mutable_pause_until() = Stamp(absl::Now() + absl::Hours(72));
  ASSERT_TRUE(Update(pause, &stored).ok());
  const v1::DecideResponse paused = Decide(Email("p1", "bo"));
  EXPECT_EQ(paused.outcome(), v1::DEFER);
  EXPECT_EQ(paused.reasons(0).code(), v1::Reason::PAUSED);
  EXPECT_EQ(paused.retry_at().seconds(), stored.pause_until().seconds());
  v1::UpdatePreferencesRequest opt_out;
  opt_out.set_contact_id("bo");
  opt_out.set_global_opt_out(true);
  opt_out.set_clear_pause(true);
  ASSERT_TRUE(Update(opt_out, &stored).ok());
  EXPECT_FALSE(stored.has_pause_until());
  EXPECT_EQ(Decide(Email("p2", "bo")).reasons(0).code(), v1::Reason::OPTED_OUT);
}

TEST_F(PreferencesE2eTest, EveryBadUpdateIsRefusedNamingTheFieldAndStoresNothing) {
  struct Case {
    std::function<void(v1::UpdatePreferencesRequest&)> spoil;
    std::string error;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.clear_contact_id(); }, "contact_id: is required"},
      {[](auto& r) { r.mutable_subscriptions(0)->set_subscription("gossip"); },
       "subscriptions[0].subscription: unknown subscription 'gossip'"},
      {[](auto& r) { r.mutable_subscriptions(0)->set_channel("fax"); },
       "subscriptions[0].channel: unknown channel 'fax'"},
      {[](auto& r) { r.mutable_subscriptions(0)->set_channel("sms"); },
       "subscriptions[0].channel: newsletter does not cover channel sms"},
      {[this](auto& r) { *r.mutable_pause_until() = Stamp(absl::Now() - absl::Hours(1)); },
       "pause_until: must be in the future"},
      {[this](auto& r) { *r.mutable_pause_until() = Stamp(absl::Now() + absl::Hours(24 * 800)); },
       "pause_until: must be at most 2 years ahead"},
      {[](auto& r) {
         auto* f = r.add_frequency();
         f->set_channel("email");
         f->set_limit(0);
         f->set_window("7d");
       },
       "frequency[0].limit: must be from 1 to 1000, not 0"},
      {[](auto& r) {
         auto* f = r.add_frequency();
         f->set_channel("email");
         f->set_limit(2);
         f->set_window("fortnight");
       },
       "frequency[0].window: must be a rolling duration"},
      {[](auto& r) { r.set_timezone("Mars/Olympus"); }, "timezone: unknown time zone"},
      {[](auto& r) { r.set_timezone("/etc/localtime"); }, "timezone: unknown time zone"},
      {[](auto& r) { r.mutable_segments()->add_segments("vip"); }, "segments: unknown segment 'vip'"},
      {[](auto& r) { r.add_block_channels()->set_channel("sms"); },
       "block_channels[0].reason: must be UNSUBSCRIBED"},
      {[](auto& r) { r.mutable_evidence()->set_actor(std::string(300, 'a')); },
       "evidence.actor: is 300 bytes long"},
  };
  for (const Case& each : cases) {
    v1::UpdatePreferencesRequest request = OptIn("carla", "newsletter", "email");
    each.spoil(request);
    v1::ContactPreferences response;
    const grpc::Status status = Update(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << each.error;
    EXPECT_THAT(status.error_message(), StartsWith(each.error));
  }
  EXPECT_EQ(redis_.Cli({"KEYS", "sg:{*"}), "");  // no contact key
  // A stale version.
  v1::ContactPreferences stored;
  ASSERT_TRUE(Update(OptIn("carla", "newsletter", "email"), &stored).ok());
  v1::UpdatePreferencesRequest stale = OptIn("carla", "newsletter", "email", false);
  stale.set_expected_version(0);
  EXPECT_EQ(Update(stale, &stored).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  stale.set_expected_version(1);
  EXPECT_TRUE(Update(stale, &stored).ok());
}

TEST_F(PreferencesE2eTest, HistoryKeepsTheProofNewestFirst) {
  v1::ContactPreferences stored;
  ASSERT_TRUE(Update(OptIn("dan", "offers", "sms"), &stored).ok());
  v1::UpdatePreferencesRequest unsubscribe = OptIn("dan", "offers", "sms", false);
  unsubscribe.mutable_evidence()->set_source(v1::Evidence::UNSUBSCRIBE_LINK);
  ASSERT_TRUE(Update(unsubscribe, &stored).ok());
  ASSERT_TRUE(Update(unsubscribe, &stored).ok());  // nothing changes: no new event
  grpc::ClientContext context;
  v1::HistoryRequest request;
  request.set_contact_id("dan");
  v1::HistoryResponse history;
  ASSERT_TRUE(preferences_->History(&context, request, &history).ok());
  ASSERT_EQ(history.events_size(), 2);
  EXPECT_EQ(history.events(0).version(), 2);
  EXPECT_EQ(history.events(0).evidence().source(), v1::Evidence::UNSUBSCRIBE_LINK);
  EXPECT_EQ(history.events(0).changes(0).field(), "subscription offers on sms");
  EXPECT_EQ(history.events(0).changes(0).before(), "opted in");
  EXPECT_EQ(history.events(0).changes(0).after(), "opted out");
  EXPECT_EQ(history.events(1).evidence().text_version(), "form-7");
  EXPECT_GT(history.events(0).at().seconds(), 0);
  // The change feed a CRM consumes has both too.
  EXPECT_EQ(redis_.Cli({"XLEN", "sg:changes"}), "2");
}

TEST_F(PreferencesE2eTest, ForgetErasesAndAReImportStaysSuppressed) {
  v1::UpdatePreferencesRequest opt_out;
  opt_out.set_contact_id("eve");
  opt_out.set_global_opt_out(true);
  v1::ContactPreferences stored;
  ASSERT_TRUE(Update(opt_out, &stored).ok());
  v1::DecideRequest receipt = Email("r1", "eve");
  receipt.set_category("transactional");
  EXPECT_EQ(Decide(receipt).outcome(), v1::ALLOW);
  grpc::ClientContext context;
  v1::ForgetRequest forget;
  forget.set_contact_id("eve");
  forget.mutable_evidence()->set_source(v1::Evidence::SUPPORT);
  v1::ForgetResponse forgotten;
  ASSERT_TRUE(preferences_->Forget(&context, forget, &forgotten).ok());
  EXPECT_TRUE(forgotten.erased());
  EXPECT_TRUE(forgotten.suppressed());
  EXPECT_EQ(redis_.Cli({"KEYS", "sg:{eve}*"}), "");
  EXPECT_TRUE(Get("eve").suppressed());

  grpc::ClientContext import_context;
  v1::ImportSummary summary;
  auto writer = preferences_->Import(&import_context, &summary);
  v1::ImportRow row;
  row.set_contact_id("eve");
  row.set_global_opt_out(false);
  auto* choice = row.add_subscriptions();
  choice->set_subscription("newsletter");
  choice->set_channel("email");
  choice->set_opted_in(true);
  ASSERT_TRUE(writer->Write(row));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(summary.accepted(), 1);
  EXPECT_EQ(Decide(Newsletter("n1", "eve")).reasons(0).code(), v1::Reason::SUPPRESSED);
}

TEST_F(PreferencesE2eTest, AnImportCountsEveryRowAndReportsTheBadOnes) {
  int64_t rows = 20000;
  if (const char* wanted = std::getenv("SENDGATE_IMPORT_ROWS")) (void)absl::SimpleAtoi(wanted, &rows);
  grpc::ClientContext context;
  v1::ImportSummary summary;
  auto writer = preferences_->Import(&context, &summary);
  const absl::Time started = absl::Now();
  int64_t bad = 0;
  for (int64_t i = 1; i <= rows; ++i) {
    v1::ImportRow row;
    row.set_contact_id(absl::StrCat("crm-", i));
    auto* choice = row.add_subscriptions();
    choice->set_subscription(i % 3 == 0 ? "offers" : "newsletter");
    choice->set_channel("email");
    choice->set_opted_in(i % 2 == 0);
    if (i % 100 == 7) {  // 1%: an undeclared subscription
      choice->set_subscription("gossip");
      ++bad;
    }
    ASSERT_TRUE(writer->Write(row));
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  const absl::Duration took = absl::Now() - started;
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::printf("imported %lld rows in %s: %.0f rows/s\n", static_cast<long long>(rows),
              absl::FormatDuration(took).c_str(), rows / absl::ToDoubleSeconds(took));
  EXPECT_EQ(summary.accepted(), rows - bad);
  EXPECT_EQ(summary.rejected(), bad);
  ASSERT_EQ(summary.rejections_size(), std::min<int64_t>(bad, 100));
  EXPECT_EQ(summary.rejections(0).row(), 7);
  EXPECT_EQ(summary.rejections(0).contact_id(), "crm-7");
  EXPECT_THAT(summary.rejections(0).reason(), StartsWith("subscriptions[0].subscription"));
  // Sending the same rows again is harmless: nothing changes, nothing is versioned again.
  EXPECT_EQ(Get("crm-2").version(), 1);
}

// Writes that must reach a replica, on a Redis that has none: each Update is UNAVAILABLE,
// saying that the change is on the primary (not that Redis is unreachable), and so is the
// caller's retry, which finds the change stored and still waits for a replica to confirm it.
TEST_F(PreferencesE2eTest, AnUpdateNoReplicaConfirmedIsUnavailableAndSaysWhy) {
  sendgate_->Kill();
  StartSendgate({}, {"--redis_wait_replicas=1", "--redis_timeout=200ms"});
  preferences_ = v1::Preferences::NewStub(channel_);
  v1::UpdatePreferencesRequest opt_out;
  opt_out.set_contact_id("unconfirmed");
  opt_out.set_global_opt_out(true);
  for (int attempt = 0; attempt < 2; ++attempt) {
    v1::ContactPreferences stored;
    const grpc::Status status = Update(opt_out, &stored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << attempt;
    EXPECT_THAT(status.error_message(), StartsWith("the change was written on the Redis primary"))
        << attempt;
  }
  EXPECT_TRUE(Get("unconfirmed").global_opt_out());  // the change stands on the primary
}

TEST_F(PreferencesE2eTest, ForgetWithoutAKeyIsRefused) {
  sendgate_->Kill();
  redis_.Cli({"FLUSHALL"});  // a Redis whose suppression list no key ever wrote
  // No --suppression_key_file: the fixture's key given as an empty path.
  StartSendgate({}, {"--suppression_key_file="});
  preferences_ = v1::Preferences::NewStub(channel_);
  grpc::ClientContext context;
  v1::ForgetRequest forget;
  forget.set_contact_id("x");
  v1::ForgetResponse response;
  const grpc::Status status = preferences_->Forget(&context, forget, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("suppression key"));
}

// Another key would let every erased contact who had opted out be messaged again.
TEST_F(PreferencesE2eTest, AnotherSuppressionKeyStopsTheStart) {
  sendgate_->Kill();
  const std::string other = dir_.path() + "/other.key";
  std::ofstream(other) << std::string(64, 'z');
  Process restart({SENDGATE_BINARY, "--policy=" + policy_path_, "--redis=" + redis_.address(),
                   "--listen=127.0.0.1:" + std::to_string(FreePort()),
                   "--metrics-listen=127.0.0.1:" + std::to_string(FreePort()),
                   "--suppression_key_file=" + other},
                  dir_.path() + "/restart.log");
  EXPECT_EQ(restart.Wait(20), 1);
  std::ifstream log(dir_.path() + "/restart.log");
  EXPECT_THAT(std::string(std::istreambuf_iterator<char>(log), {}),
              HasSubstr("written with another key"));
}

}  // namespace
}  // namespace sendgate::testing
