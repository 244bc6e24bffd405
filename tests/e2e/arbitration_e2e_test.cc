// Send arbitration end to end, the sendgate binary over gRPC with a real redis-server
// (fixture.h): look-ahead planning (Arbiter.Plan) for an audience of 100 000 contacts, then the
// lower-priority campaign's decisions; bad Plan rows; channel capacity.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
#include "tests/e2e/fixture.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ArbitrationTest : public SendgateTest {
 protected:
  void SetUp() override {
    SendgateTest::SetUp();
    // The example policy with one marketing email a week, so that one planned send fills it,
    // and an SMS provider taking 2 messages a day.
    std::ifstream in(policy_path_);
    std::string text(std::istreambuf_iterator<char>(in), {});
    text = absl::StrReplaceAll(text, {{"    window: 7d\n    limit: 3\n", "    window: 7d\n    limit: 1\n"}});
    text += "capacity:\n  - id: sms-provider\n    channels: [sms]\n    interval: calendar day\n"
            "    limit: 2\n    shards: 1\n";
    std::ofstream(policy_path_, std::ios::trunc) << text;
    sendgate_.reset();
    StartSendgate();
  }

  // A campaign of `priority` on email, planned for `at`.
  static v1::PlannedCampaign Campaign(const std::string& id, int priority, absl::Time at) {
    v1::PlannedCampaign campaign;
    campaign.set_campaign_id(id);
    campaign.set_channel("email");
    campaign.set_priority(priority);
    *campaign.mutable_planned_at() = Stamp(at);
    return campaign;
  }

  // Streams `requests` on one Plan call.
  grpc::Status Plan(const std::vector<v1::PlanRequest>& requests, v1::PlanResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    std::unique_ptr<grpc::ClientWriter<v1::PlanRequest>> writer =
        stub_->Plan(&context, response);
    for (const v1::PlanRequest& request : requests) {
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  v1::DecideRequest Promo(const std::string& contact, int priority = 50) {
    v1::DecideRequest request = Email("promo-" + contact, contact);
    request.set_campaign_id("promo");
    request.set_priority(priority);
    return request;
  }

  v1::GetPressureResponse Pressure(const std::string& contact) {
    grpc::ClientContext context;
    v1::GetPressureRequest request;
    request.set_contact_id(contact);
    v1::GetPressureResponse pressure;
    EXPECT_TRUE(stub_->GetPressure(&context, request, &pressure).ok());
    return pressure;
  }
};

// A birthday wave (priority 90) planned for tomorrow to 100 000 contacts, in requests of 1 000
// rows; then the promotion (priority 50) for a sample of them is refused the room the
// birthday needs, while contacts outside the audience and a message of higher priority pass,
// and the birthday's own decision consumes its planned send.
TEST_F(ArbitrationTest, PlanAnAudienceOfAHundredThousandThenTheLowerPriorityCampaign) {
  constexpr int kAudience = 100000;
  std::vector<v1::PlanRequest> requests(kAudience / 1000);
  *requests[0].add_campaigns() = Campaign("birthday", 90, t0_ + absl::Hours(24));
  for (int i = 0; i < kAudience; ++i) {
    v1::PlannedContact* row = requests[i / 1000].add_contacts();
    row->set_campaign_id("birthday");
    row->set_contact_id(absl::StrCat("fan-", i));
  }
  const absl::Time started = absl::Now();
  v1::PlanResponse response;
  const grpc::Status status = Plan(requests, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.planned(), kAudience);
  EXPECT_EQ(response.withdrawn(), 0);
  std::cout << "planned " << kAudience << " contacts in " << absl::Now() - started << "\n";
  // Memory: one planned send in a contact's own key.
  int64_t bytes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(redis_.Cli({"MEMORY", "USAGE", "sg:{fan-7}:l"}), &bytes));
  std::cout << "MEMORY USAGE of a contact's one planned send: " << bytes << " bytes\n";
  EXPECT_LT(bytes, 128);

  // The promotion for 1 000 of them, on one DecideStream: every one refused for the birthday.
  grpc::ClientContext context;
  auto stream = stub_->DecideStream(&context);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(stream->Write(Promo(absl::StrCat("fan-", i * 97))));
  stream->WritesDone();
  v1::DecideResponse decided;
  int refused = 0;
  while (stream->Read(&decided)) {
    EXPECT_EQ(decided.outcome(), v1::DENY) << decided.contact_id();
    ASSERT_EQ(decided.reasons_size(), 1) << decided.contact_id();
    EXPECT_EQ(decided.reasons(0).code(), v1::Reason::LOWER_PRIORITY);
    EXPECT_EQ(decided.reasons(0).rule_id(), "email-marketing-7d");
    EXPECT_EQ(decided.reasons(0).used(), 0);
    EXPECT_THAT(decided.reasons(0).message(), HasSubstr("kept for planned sends that come first"));
    ++refused;
  }
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(refused, 1000);

  EXPECT_EQ(Decide(Promo("stranger")).outcome(), v1::ALLOW);  // not in the audience
  EXPECT_EQ(Decide(Promo("fan-1", 95)).outcome(), v1::ALLOW);  // more important than a birthday
  ASSERT_EQ(Pressure("fan-2").planned_size(), 1);
  EXPECT_EQ(Pressure("fan-2").planned(0).priority(), 90);
  v1::DecideRequest birthday = Email("bday-fan-2", "fan-2");
  birthday.set_campaign_id("birthday");
  birthday.set_priority(90);
  *birthday.mutable_send_at() = Stamp(t0_ + absl::Hours(24));
  EXPECT_EQ(Decide(birthday).outcome(), v1::ALLOW);
  EXPECT_EQ(Pressure("fan-2").planned_size(), 0);  // consumed by its own decision
}

TEST_F(ArbitrationTest, APlannedSendCanBeWithdrawn) {
  v1::PlanRequest request;
  *request.add_campaigns() = Campaign("vip", 90, t0_ + absl::Hours(3));
  v1::PlannedContact* row = request.add_contacts();
  row->set_campaign_id("vip");
  row->set_contact_id("c");
  v1::PlanResponse response;
  ASSERT_TRUE(Plan({request}, &response).ok());
  EXPECT_EQ(Decide(Promo("c")).outcome(), v1::DENY);
  row->set_withdraw(true);
  ASSERT_TRUE(Plan({request}, &response).ok());
  EXPECT_EQ(response.withdrawn(), 1);
  v1::DecideRequest again = Promo("c");
  again.set_message_id("promo-c-2");
  EXPECT_EQ(Decide(again).outcome(), v1::ALLOW);
}

// Each bad request ends the stream with INVALID_ARGUMENT naming the field; the rows before it
// are stored.
// A store failure ends the stream with its status once the calls under way have answered,
// however many rows the client still sends: it neither hangs nor answers OK.
TEST_F(ArbitrationTest, APlanWhileRedisIsDownEndsUnavailable) {
  redis_.Kill();
  std::vector<v1::PlanRequest> requests(20);
  *requests[0].add_campaigns() = Campaign("down", 60, t0_ + absl::Hours(1));
  for (int i = 0; i < 20 * 100; ++i) {
    v1::PlannedContact* row = requests[i / 100].add_contacts();
    row->set_campaign_id("down");
    row->set_contact_id(absl::StrCat("down-", i));
  }
  v1::PlanResponse response;
  const grpc::Status status = Plan(requests, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ArbitrationTest, ABadPlanRowIsRefusedNamingItsField) {
  auto refused = [&](const v1::PlanRequest& bad) {
    v1::PlanRequest good;
    *good.add_campaigns() = Campaign("ok", 60, t0_ + absl::Hours(1));
    v1::PlannedContact* row = good.add_contacts();
    row->set_campaign_id("ok");
    row->set_contact_id("before");
    v1::PlanResponse response;
    const grpc::Status status = Plan({good, bad}, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(Pressure("before").planned_size(), 1);
    return status.error_message();
  };
  v1::PlanRequest unknown_campaign;
  v1::PlannedContact* row = unknown_campaign.add_contacts();
  row->set_campaign_id("nope");
  row->set_contact_id("x");
  EXPECT_THAT(refused(unknown_campaign),
              StartsWith("contacts[0].campaign_id: unknown campaign 'nope'"));

  v1::PlanRequest past;
  *past.add_campaigns() = Campaign("late", 60, absl::Now() - absl::Hours(1));
  EXPECT_THAT(refused(past), StartsWith("campaigns[0].planned_at: is "));
  EXPECT_THAT(refused(past), HasSubstr("in the past"));

  v1::PlanRequest unknown_field;
  v1::PlannedContact* odd = unknown_field.add_contacts();
  odd->set_campaign_id("ok");
  odd->set_contact_id("y");
  odd->GetReflection()->MutableUnknownFields(odd)->AddVarint(42, 7);
  EXPECT_THAT(refused(unknown_field), StartsWith("contacts[0]: unknown field number 42"));

  v1::PlanRequest bad_channel;
  *bad_channel.add_campaigns() = Campaign("fax", 60, t0_);
  bad_channel.mutable_campaigns(0)->set_channel("fax");
  EXPECT_THAT(refused(bad_channel), StartsWith("campaigns[0].channel: unknown channel 'fax'"));

  v1::PlanRequest no_contact;
  no_contact.add_contacts()->set_campaign_id("ok");
  EXPECT_THAT(refused(no_contact), StartsWith("contacts[0].contact_id: is required"));
}

// The SMS provider takes 2 a day: the third SMS of the day waits for tomorrow, reason CAPACITY.
TEST_F(ArbitrationTest, ChannelCapacityDefersTheExcessToTheNextDay) {
  for (int i = 0; i < 2; ++i) {
    v1::DecideRequest sms = Email(absl::StrCat("sms-", i), absl::StrCat("texter-", i));
    sms.set_channel("sms");
    sms.set_category("transactional");
    EXPECT_EQ(Decide(sms).outcome(), v1::ALLOW);
  }
  v1::DecideRequest third = Email("sms-2", "texter-2");
  third.set_channel("sms");
  third.set_category("transactional");
  const v1::DecideResponse response = Decide(third);
  EXPECT_EQ(response.outcome(), v1::DEFER);
  ASSERT_EQ(response.reasons_size(), 1);
  EXPECT_EQ(response.reasons(0).code(), v1::Reason::CAPACITY);
  EXPECT_EQ(response.reasons(0).rule_id(), "sms-provider");
  absl::TimeZone paris;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Paris", &paris));
  EXPECT_EQ(FromStamp(response.retry_at()),
            absl::FromCivil(absl::ToCivilDay(t0_, paris) + 1, paris));
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/metrics")),
              HasSubstr("sendgate_decision_reasons_total{code=\"capacity\",rule=\"sms-provider\"} 1"));
}

}  // namespace
}  // namespace sendgate::testing
