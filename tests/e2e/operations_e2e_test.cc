// Operating sendgate, end to end: the Admin service, the policy file watch, a reload under
// load, a dry-run Decide, sendgatectl against the running binary (its output, --json and exit
// codes), and a real Prometheus scraping the monitoring port.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "sendgate/v1/admin.grpc.pb.h"
#include "sendgate/v1/preferences.grpc.pb.h"
#include "service/core/names.h"
#include "tests/e2e/fixture.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;

class OperationsTest : public SendgateTest {
 protected:
  std::string PolicyText() {
    std::ifstream in(std::string(SENDGATE_SOURCE_DIR) + "/policies/default.yaml");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // The example policy under another version, with the email cap at `email_limit`.
  std::string PolicyVersion(const std::string& version, int email_limit = 3) {
    std::string text = PolicyText();
    absl::StrReplaceAll({{"version: \"default-2026-12-01\"", "version: \"" + version + "\""}},
                        &text);
    const std::string cap = "id: email-marketing-7d";
    const size_t limit = text.find("limit: 3", text.find(cap));
    text.replace(limit, 8, "limit: " + std::to_string(email_limit));
    return text;
  }
  void WritePolicy(const std::string& text) {
    const std::string next = policy_path_ + ".next";
    std::ofstream(next) << text;
    std::filesystem::rename(next, policy_path_);  // as a ConfigMap update: whole or nothing
  }
  v1::GetPolicyResponse GetPolicy() {
    grpc::ClientContext context;
    v1::GetPolicyResponse response;
    EXPECT_TRUE(admin_->GetPolicy(&context, {}, &response).ok());
    return response;
  }
  grpc::Status Reload(v1::ReloadResponse* response) {
    grpc::ClientContext context;
    return admin_->Reload(&context, {}, response);
  }
  // Runs sendgatectl against this sendgate; its exit code, and its stdout in `out`.
  int Ctl(const std::string& arguments, std::string* out = nullptr) {
    const std::string command = absl::StrCat(SENDGATECTL_BINARY, " --target=127.0.0.1:", grpc_port_,
                                             " ", arguments, " 2>&1");
    FILE* pipe = popen(command.c_str(), "r");
    std::string text;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
    const int status = pclose(pipe);
    if (out != nullptr) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string MetricsText() { return Body(HttpGet(metrics_port_, "/metrics")); }

  std::unique_ptr<v1::Admin::Stub> admin_ = nullptr;
  void SetUp() override {
    SendgateTest::SetUp();
    admin_ = v1::Admin::NewStub(channel_);
  }
};

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &parsed).ok()) << text;
  return parsed;
}

TEST_F(OperationsTest, GetPolicyShowsThePolicyInForce) {
  const v1::GetPolicyResponse policy = GetPolicy();
  EXPECT_EQ(policy.version(), "default-2026-12-01");
  EXPECT_EQ(policy.path(), policy_path_);
  EXPECT_THAT(policy.channels(), ::testing::ElementsAre("email", "sms", "push"));
  EXPECT_THAT(policy.caps(), ::testing::Contains("email-marketing-7d"));
  EXPECT_TRUE(policy.last_reload_ok());
  EXPECT_GT(policy.loaded_at().seconds(), 0);
}

TEST_F(OperationsTest, ValidatePolicyAnswersEveryErrorWithoutApplyingIt) {
  v1::ValidatePolicyRequest request;
  v1::ValidatePolicyResponse response;
  request.set_policy(PolicyVersion("candidate-1"));
  {
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->ValidatePolicy(&context, request, &response).ok());
  }
  EXPECT_TRUE(response.valid());
  EXPECT_EQ(response.version(), "candidate-1");
  EXPECT_EQ(GetPolicy().version(), "default-2026-12-01");

  request.set_policy("channels: [email]\ncategories: {marketing: {}}\ncaps: oops\n");
  request.set_name("shop/fr.yaml");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->ValidatePolicy(&context, request, &response).ok());
  }
  EXPECT_FALSE(response.valid());
  EXPECT_THAT(response.errors(),
              ::testing::Contains("shop/fr.yaml:3:7: caps must be a list of caps"));

  for (const auto& [name, size] : {std::pair<std::string, size_t>{"../etc/passwd\n", 10},
                                   {std::string(201, 'a'), 10},
                                   {"ok.yaml", (1 << 20) + 1}}) {
    request.set_name(name);
    request.set_policy(std::string(size, '#'));
    grpc::ClientContext context;
    const grpc::Status status = admin_->ValidatePolicy(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name.size();
    EXPECT_THAT(status.error_message(), ::testing::StartsWith(size > 10 ? "policy:" : "name:"));
  }
}

TEST_F(OperationsTest, ReloadSwapsAGoodFileAndKeepsThePolicyOnABadOne) {
  v1::ReloadResponse response;
  ASSERT_TRUE(Reload(&response).ok());
  EXPECT_FALSE(response.changed());

  WritePolicy(PolicyVersion("v2"));
  ASSERT_TRUE(Reload(&response).ok());
  EXPECT_TRUE(response.changed());
  EXPECT_EQ(response.previous_version(), "default-2026-12-01");
  EXPECT_EQ(response.version(), "v2");
  EXPECT_EQ(Decide(Email("after-v2")).policy_version(), "v2");

  WritePolicy("channels: [email]\ncaps: oops\n");
  const grpc::Status refused = Reload(&response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("policy.yaml:2:7: caps must be a list of caps"));
  EXPECT_EQ(Decide(Email("after-bad")).policy_version(), "v2");
  const v1::GetPolicyResponse policy = GetPolicy();
  EXPECT_FALSE(policy.last_reload_ok());
  EXPECT_THAT(policy.last_reload_error(), HasSubstr("caps must be a list of caps"));
  EXPECT_THAT(MetricsText(), HasSubstr("\nsendgate_policy_last_reload_successful 0\n"));
  EXPECT_THAT(MetricsText(), HasSubstr("sendgate_policy_reloads_total{result=\"rejected\"} 1\n"));
}

TEST_F(OperationsTest, AChangedPolicyFileIsLoadedByItself) {
  sendgate_.reset();
  StartSendgate({}, {"--policy_watch_interval=100ms"});
  admin_ = v1::Admin::NewStub(channel_);
  WritePolicy(PolicyVersion("watched"));
  std::string seen;
  for (int i = 0; i < 300 && seen != "watched"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    seen = GetPolicy().version();
  }
  EXPECT_EQ(seen, "watched");
  EXPECT_THAT(Log(), HasSubstr("(file change): version default-2026-12-01 -> watched"));

  WritePolicy("channels: [email]\ncaps: oops\n");
  bool refused = false;
  for (int i = 0; i < 300 && !refused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    refused = !GetPolicy().last_reload_ok();
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(Decide(Email("still")).policy_version(), "watched");
  // Refused once: the same bad text is not reported again at every look.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_THAT(MetricsText(), HasSubstr("sendgate_policy_reloads_total{result=\"rejected\"} 1\n"));
  // Every log line is one JSON object with its time, level, component and message.
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(Log(), '\n', absl::SkipEmpty())) {
    const google::protobuf::Struct parsed = ParseJson(std::string(line));
    for (const char* field : {"time", "level", "component", "message"}) {
      EXPECT_TRUE(parsed.fields().contains(field)) << line;
    }
    ++lines;
  }
  EXPECT_GE(lines, 4);
}

// Four callers decide as fast as they can while the policy is swapped forty times: every call
// gets an answer, from one policy or the other, and none is lost or failed.
TEST_F(OperationsTest, APolicyReloadUnderLoadLosesNoDecision) {
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::set<std::string> versions_seen;
  std::mutex mutex;
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      std::set<std::string> seen;
      for (int i = 0; !stop.load(); ++i) {
        v1::DecideRequest request =
            Email(absl::StrCat("m", t, "-", i), absl::StrCat("c", t, "-", i));
        v1::DecideResponse response;
        const grpc::Status status = Call(request, &response);
        if (!status.ok() || response.outcome() == v1::OUTCOME_UNSPECIFIED) {
          ++failed;
        } else {
          ++answered;
          seen.insert(response.policy_version());
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      versions_seen.insert(seen.begin(), seen.end());
    });
  }
  for (int round = 0; round < 40; ++round) {
    WritePolicy(PolicyVersion(round % 2 == 0 ? "even" : "odd", 3 + round % 2));
    v1::ReloadResponse response;
    EXPECT_TRUE(Reload(&response).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(answered.load(), 100);
  EXPECT_TRUE(versions_seen.count("even") == 1 && versions_seen.count("odd") == 1);
  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat("sendgate_grpc_requests_total{code=\"OK\",method=\"Decide\"} ",
                                     answered.load(), "\n")));
}

TEST_F(OperationsTest, ADryRunDecidesWithoutRecordingOrCounting) {
  for (int i = 0; i < 3; ++i) Decide(Email("sent" + std::to_string(i)));
  for (int i = 0; i < 5; ++i) {
    v1::DecideRequest request = Email("dry" + std::to_string(i));
    request.set_dry_run(true);
    const v1::DecideResponse answer = Decide(request);
    EXPECT_EQ(answer.outcome(), v1::DEFER);  // email-marketing-7d is full: 3 of 3
  }
  v1::DecideRequest other_contact = Email("dry-fresh", "contact-2");
  other_contact.set_dry_run(true);
  EXPECT_EQ(Decide(other_contact).outcome(), v1::ALLOW);
  EXPECT_EQ(Decide(other_contact).outcome(), v1::ALLOW);  // not remembered: no replay either
  EXPECT_FALSE(Decide(other_contact).replayed());
  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics, HasSubstr("sendgate_decisions_total{category=\"marketing\",channel="
                                 "\"email\",outcome=\"allow\"} 3\n"));
  EXPECT_THAT(metrics,
              HasSubstr("sendgate_decisions_total{category=\"marketing\",channel=\"email\","
                        "outcome=\"defer\"} 0\n"));
}

TEST_F(OperationsTest, SendgatectlDecideExplainAndPrefs) {
  std::string out;
  EXPECT_EQ(Ctl("decide --contact=contact-1 --channel=email", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("outcome:  ALLOW (dry run: nothing recorded)"));
  for (int i = 0; i < 3; ++i) Decide(Email("sent" + std::to_string(i)));
  const std::string at =
      " --send_at=" + absl::FormatTime(absl::RFC3339_sec, t0_, absl::UTCTimeZone());
  EXPECT_EQ(Ctl("decide --contact=contact-1 --channel=email" + at, &out), 3) << out;  // DEFER
  EXPECT_THAT(out, HasSubstr("CAP_REACHED  email-marketing-7d  3     3"));
  EXPECT_EQ(
      Ctl("--json decide --contact=contact-1 --channel=email --subscription=newsletter", &out), 1)
      << out;  // DENY: not opted in
  google::protobuf::Struct decision = ParseJson(out);
  EXPECT_EQ(decision.fields().at("outcome").string_value(), "DENY");
  EXPECT_EQ(decision.fields()
                .at("reasons")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("code")
                .string_value(),
            "NOT_OPTED_IN");
  EXPECT_EQ(Ctl("decide --contact=contact-1 --channel=pigeon", &out), 4);
  EXPECT_THAT(out, HasSubstr("channel: unknown channel 'pigeon'"));
  EXPECT_EQ(Ctl("decide --contact=contact-1 --channel=email --priority=high", &out), 2);

  EXPECT_EQ(Ctl("prefs set contact-1 --subscribe=newsletter:email --block=sms:complaint "
                "--timezone=Europe/Paris --actor=agent-7",
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("newsletter               email    opted in"));
  EXPECT_EQ(Ctl("--json prefs get contact-1", &out), 0);
  google::protobuf::Struct prefs = ParseJson(out);
  EXPECT_EQ(prefs.fields().at("timezone").string_value(), "Europe/Paris");
  EXPECT_EQ(prefs.fields()
                .at("blocked_channels")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("reason")
                .string_value(),
            "COMPLAINT");
  EXPECT_EQ(Ctl("prefs set contact-1 --timezone=Mars/Olympus", &out), 4);
  EXPECT_THAT(out, HasSubstr("timezone"));

  EXPECT_EQ(Ctl("explain contact-1", &out), 0) << out;
  for (const char* part : {"Preferences (version 1)", "email-marketing-7d", "3     3",
                           "Next free slot per channel", "History (3 records)"}) {
    EXPECT_THAT(out, HasSubstr(part));
  }
  EXPECT_EQ(Ctl("--json explain contact-1", &out), 0);
  google::protobuf::Struct explained = ParseJson(out);
  EXPECT_EQ(explained.fields().at("contact_id").string_value(), "contact-1");
  EXPECT_EQ(explained.fields()
                .at("pressure")
                .struct_value()
                .fields()
                .at("history")
                .list_value()
                .values_size(),
            3);
  EXPECT_EQ(Ctl("explain", &out), 2);
  EXPECT_EQ(Ctl("frobnicate", &out), 2);
}

TEST_F(OperationsTest, SendgatectlPolicyCommandsAndReload) {
  std::string out;
  const std::string good = dir_.path() + "/good.yaml";
  const std::string bad = dir_.path() + "/bad.yaml";
  std::ofstream(good) << PolicyVersion("v9", 4);
  std::ofstream(bad) << "channels: [email]\ncaps: oops\n";
  EXPECT_EQ(Ctl("policy check " + good, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("valid, version v9"));
  EXPECT_EQ(Ctl("policy check " + bad, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("bad.yaml:2:7: caps must be a list of caps"));
  EXPECT_EQ(Ctl("--json policy check " + bad, &out), 1);
  EXPECT_FALSE(ParseJson(out).fields().at("valid").bool_value());
  EXPECT_EQ(Ctl("policy check " + dir_.path() + "/missing.yaml", &out), 2);

  EXPECT_EQ(Ctl("policy diff " + policy_path_ + " " + policy_path_, &out), 0);
  EXPECT_THAT(out, HasSubstr("no difference"));
  EXPECT_EQ(Ctl("policy diff " + policy_path_ + " " + good, &out), 1);
  EXPECT_THAT(out, HasSubstr("~ caps[email-marketing-7d].limit: 3 -> 4"));
  EXPECT_THAT(out, HasSubstr("~ version: default-2026-12-01 -> v9"));

  EXPECT_EQ(Ctl("reload", &out), 0);
  EXPECT_THAT(out, HasSubstr("unchanged"));
  WritePolicy(PolicyVersion("v9", 4));
  EXPECT_EQ(Ctl("--json reload", &out), 0);
  google::protobuf::Struct reloaded = ParseJson(out);
  EXPECT_EQ(reloaded.fields().at("version").string_value(), "v9");
  EXPECT_TRUE(reloaded.fields().at("changed").bool_value());
  WritePolicy("caps: 3\n");
  EXPECT_EQ(Ctl("reload", &out), 1);
  EXPECT_THAT(out, HasSubstr("reload refused"));
  EXPECT_EQ(Ctl("policy show", &out), 0);
  EXPECT_THAT(out, HasSubstr("version:    v9"));
  EXPECT_THAT(out, HasSubstr("REFUSED"));

  sendgate_->Kill();
  EXPECT_EQ(Ctl("--timeout=1s policy show", &out), 5);
}

// Shadow mode: a candidate that allows one marketing email a week instead of three decides
// beside the policy in force; exactly the decisions it would change are counted, by outcome and
// rule, and only the policy in force is enforced.
TEST_F(OperationsTest, ShadowModeCountsTheDifferencesAKnownCandidateMustProduce) {
  const std::string candidate = dir_.path() + "/shadow.yaml";
  std::ofstream(candidate) << PolicyVersion("candidate", 1);
  sendgate_.reset();
  StartSendgate({}, {"--shadow_policy=" + candidate});
  admin_ = v1::Admin::NewStub(channel_);
  EXPECT_EQ(GetPolicy().shadow_version(), "candidate");
  EXPECT_EQ(GetPolicy().shadow_path(), candidate);

  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Decide(Email("e" + std::to_string(i))).outcome(), v1::ALLOW);  // enforced: 3
  }
  v1::DecideRequest sms = Email("s1", "contact-2");
  sms.set_channel("sms");
  EXPECT_EQ(Decide(sms).outcome(), v1::ALLOW);
  EXPECT_TRUE(Decide(Email("e0")).replayed());  // a replay is not a decision: not compared
  v1::DecideRequest dry = Email("dry", "contact-3");
  dry.set_dry_run(true);
  Decide(dry);  // nor is a dry run

  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics, HasSubstr("sendgate_shadow_decisions_total{result=\"same\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_shadow_decisions_total{result=\"different\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_shadow_decisions_total{result=\"not_compared\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_shadow_differences_total{active=\"allow\","
                                 "rule=\"email-marketing-7d\",shadow=\"defer\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("sendgate_shadow_policy_info{version=\"candidate\"} 1\n"));
  std::string out;
  EXPECT_EQ(Ctl("policy show", &out), 0);
  EXPECT_THAT(out, HasSubstr("shadow:     candidate from " + candidate));

  // Emptying the candidate's file ends shadow mode at the next reload.
  std::ofstream(candidate, std::ios::trunc).flush();
  v1::ReloadResponse response;
  EXPECT_TRUE(Reload(&response).ok());
  EXPECT_EQ(GetPolicy().shadow_version(), "");
  Decide(Email("e9", "contact-9"));
  EXPECT_THAT(MetricsText(), HasSubstr("sendgate_shadow_decisions_total{result=\"same\"} 2\n"));
}

// --shadow_percent: the candidate decides for that share of the contacts only, always the same.
TEST_F(OperationsTest, ShadowModeOnAShareOfTheContacts) {
  const std::string candidate = dir_.path() + "/shadow.yaml";
  std::ofstream(candidate) << PolicyVersion("candidate", 1);
  sendgate_.reset();
  StartSendgate({}, {"--shadow_policy=" + candidate, "--shadow_percent=30"});
  int sampled = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string contact = "sampled-" + std::to_string(i);
    Decide(Email("m" + std::to_string(i), contact));
    sampled += core::NameId(contact) % 100 < 30;
  }
  ASSERT_GT(sampled, 20);
  ASSERT_LT(sampled, 100);
  EXPECT_THAT(
      MetricsText(),
      HasSubstr(absl::StrCat("sendgate_shadow_decisions_total{result=\"same\"} ", sampled, "\n")));
}

// A real Prometheus (the Debian package) scrapes sendgate, and its query API returns the
// decision counter.
TEST_F(OperationsTest, PrometheusScrapesTheDecisionCounter) {
  Decide(Email("scraped"));
  const int port = FreePort();
  const std::string config = dir_.path() + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        << "  - job_name: sendgate\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << metrics_port_ << "']\n";
  Process prometheus(
      {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir_.path() + "/prometheus.log");
  ASSERT_TRUE(WaitForPort(port, 30)) << "prometheus did not start";
  std::string answer;
  const std::string query =
      "/api/v1/query?query=sendgate_decisions_total%7Boutcome%3D%22allow%22%7D";
  for (int i = 0; i < 150 && answer.find("\"result\":[{") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    answer = Body(HttpGet(port, query));
  }
  EXPECT_THAT(answer, HasSubstr("\"__name__\":\"sendgate_decisions_total\""));
  EXPECT_THAT(answer, HasSubstr("\"job\":\"sendgate\""));
  EXPECT_THAT(answer, HasSubstr("\"channel\":\"email\""));
  EXPECT_THAT(answer, HasSubstr(",\"1\"]"));  // [timestamp, "1"]: one decision
  const std::string up = Body(HttpGet(port, "/api/v1/query?query=up"));
  EXPECT_THAT(up, HasSubstr(",\"1\"]")) << up;
}

}  // namespace
}  // namespace sendgate::testing
