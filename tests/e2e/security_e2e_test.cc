// Who may reach sendgate and what sendgate reaches, end to end. TLS on the gRPC port, with
// certificates openssl makes for the test (make_certs.sh): a TLS client is served and a
// plaintext one refused; mutual TLS refuses a caller without a certificate, or with an expired,
// revoked or foreign one; a certificate rotated on disk is served to new connections without a
// restart; sendgatectl speaks TLS; --require_tls and half-given TLS settings stop sendgate at
// start. Caller roles by the authorization policy (--authz_policy_file): each role's RPCs and
// no others, a bearer token rotated in the file, a broken file refused, and what a sender may
// declare (the policy's callers). Redis AUTH as the shipped ACL's user, with the password from a file or the
// environment, never on the command line or in the log.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sendgate/v1/admin.grpc.pb.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
#include "sendgate/v1/preferences.grpc.pb.h"
#include "service/ctl/client_tls.h"
#include "tests/e2e/fixture.h"

namespace sendgate::testing {
namespace {

using ::testing::HasSubstr;

class TlsTest : public SendgateTest {
 protected:
  void SetUp() override {
    certs_ = dir_.path() + "/certs";
    std::filesystem::create_directories(certs_);
    ASSERT_EQ(std::system(absl::StrCat("bash ", SENDGATE_SOURCE_DIR, "/tests/e2e/make_certs.sh ",
                                       certs_, " > ", certs_, "/make.log 2>&1")
                              .c_str()),
              0)
        << "openssl could not make the test certificates";
    SendgateTest::SetUp();  // plaintext, as the other tests; each test restarts it
  }

  std::string Cert(const std::string& name) const { return certs_ + "/" + name; }

  void StartTls(std::vector<std::string> extra) {
    sendgate_->Kill();
    std::vector<std::string> flags = {"--tls_cert_file=" + Cert("server.pem"),
                                      "--tls_key_file=" + Cert("server.key")};
    flags.insert(flags.end(), extra.begin(), extra.end());
    StartSendgate({}, flags);
  }

  // A new connection (its own channel arguments: gRPC shares no subchannel with another) to
  // sendgate with `tls`; `server_name` receives the CN of the certificate it was served.
  grpc::Status Ping(const ctl::ClientTls& tls, std::string* server_name = nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        ctl::ChannelCredentials(tls);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    grpc::ChannelArguments arguments;
    arguments.SetInt("sendgate.test.connection", ++connections_);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                             *credentials, arguments);
    auto stub = v1::Arbiter::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    v1::DecideResponse response;
    const std::string n = std::to_string(connections_);
    const grpc::Status status = stub->Decide(&context, Email("m-" + n, "contact-" + n), &response);
    if (status.ok()) {
      EXPECT_EQ(response.outcome(), v1::ALLOW);
    }
    if (server_name != nullptr && context.auth_context() != nullptr) {
      for (const grpc::string_ref& name :
           context.auth_context()->FindPropertyValues("x509_common_name")) {
        *server_name = std::string(name.data(), name.size());
      }
    }
    return status;
  }
  ctl::ClientTls Client(const std::string& name) const {
    return {.ca_file = Cert("ca.pem"),
            .cert_file = Cert(name + ".pem"),
            .key_file = Cert(name + ".key")};
  }

  // sendgate's exit code and log when started with `flags` (it should refuse to start).
  int Refused(const std::vector<std::string>& flags, std::string* log) {
    std::vector<std::string> argv = {SENDGATE_BINARY, "--policy=" + policy_path_,
                                     "--redis=" + redis_.address(), "--listen=127.0.0.1:0",
                                     "--metrics_listen=127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const std::string path = dir_.path() + "/refused.log";
    std::filesystem::remove(path);
    Process process(argv, path);
    const int status = process.Wait(10);
    std::ifstream in(path);
    *log = std::string(std::istreambuf_iterator<char>(in), {});
    return status;
  }

  std::string certs_;
  int connections_ = 0;
};

TEST_F(TlsTest, TlsClientsAreServedAndPlaintextRefused) {
  StartTls({"--require_tls"});
  // The readiness probe speaks TLS too: still ready after its probes (every 2 s), and none of
  // them logged as a failed handshake (as a plaintext caller is, below).
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_THAT(HttpGet(metrics_port_, "/readyz"), HasSubstr("200"));
  EXPECT_THAT(Log(), HasSubstr("(TLS)"));
  EXPECT_THAT(Log(), ::testing::Not(HasSubstr("Handshake failed")));
  std::string server_name;
  EXPECT_TRUE(Ping({.ca_file = Cert("ca.pem")}, &server_name).ok());
  EXPECT_EQ(server_name, "sendgate-1");
  EXPECT_EQ(Ping({}).error_code(), grpc::StatusCode::UNAVAILABLE);  // plaintext
  EXPECT_EQ(Ping({.ca_file = Cert("other-ca.pem")}).error_code(),   // a server it cannot trust
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(Log(), HasSubstr("Handshake failed"));
}

TEST_F(TlsTest, MutualTlsRefusesEveryCallerWithoutAValidCertificate) {
  StartTls({"--tls_client_ca_file=" + Cert("ca.pem"), "--tls_crl_dir=" + Cert("crl")});
  EXPECT_TRUE(Ping(Client("client")).ok());
  EXPECT_EQ(Ping({.ca_file = Cert("ca.pem")}).error_code(), grpc::StatusCode::UNAVAILABLE);
  for (const char* refused : {"expired", "revoked", "wrong-ca"}) {
    EXPECT_EQ(Ping(Client(refused)).error_code(), grpc::StatusCode::UNAVAILABLE) << refused;
  }
  EXPECT_TRUE(Ping(Client("client")).ok());  // and the valid caller still is served
  EXPECT_THAT(Log(), HasSubstr("(mutual TLS)"));
}

TEST_F(TlsTest, OptionalClientCertificatesAreStillVerified) {
  StartTls({"--tls_client_ca_file=" + Cert("ca.pem"), "--tls_client_cert_optional"});
  EXPECT_TRUE(Ping({.ca_file = Cert("ca.pem")}).ok());
  EXPECT_TRUE(Ping(Client("client")).ok());
  EXPECT_EQ(Ping(Client("wrong-ca")).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ARotatedCertificateIsServedWithoutARestart) {
  StartTls({"--tls_refresh_interval=1s"});
  std::string server_name;
  ASSERT_TRUE(Ping({.ca_file = Cert("ca.pem")}, &server_name).ok());
  EXPECT_EQ(server_name, "sendgate-1");
  // As a Secret update: each file replaced whole.
  std::filesystem::copy_file(Cert("server2.key"), Cert("next.key"));
  std::filesystem::copy_file(Cert("server2.pem"), Cert("next.pem"));
  std::filesystem::rename(Cert("next.key"), Cert("server.key"));
  std::filesystem::rename(Cert("next.pem"), Cert("server.pem"));
  for (int i = 0; i < 50 && server_name != "sendgate-2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(Ping({.ca_file = Cert("ca.pem")}, &server_name).ok());
  }
  EXPECT_EQ(server_name, "sendgate-2");
}

TEST_F(TlsTest, SendgatectlSpeaksTls) {
  StartTls({"--tls_client_ca_file=" + Cert("ca.pem")});
  const std::string ctl =
      absl::StrCat(SENDGATECTL_BINARY, " --timeout=3s --target=127.0.0.1:", grpc_port_, " ");
  const std::string client = absl::StrCat(
      "--cacert=", Cert("ca.pem"), " --cert=", Cert("client.pem"), " --key=", Cert("client.key"));
  EXPECT_EQ(WEXITSTATUS(std::system((ctl + client + " policy show > /dev/null").c_str())), 0);
  EXPECT_EQ(WEXITSTATUS(std::system((ctl + "policy show > /dev/null 2>&1").c_str())), 5);
  EXPECT_EQ(WEXITSTATUS(std::system((ctl + "--cert=x.pem policy show 2> /dev/null").c_str())), 2);
}

TEST_F(TlsTest, BadTlsSettingsStopSendgateAtStart) {
  std::string log;
  EXPECT_EQ(Refused({"--require_tls"}, &log), 2);
  EXPECT_THAT(log, HasSubstr("require_tls is set: give --tls_cert_file and --tls_key_file"));
  EXPECT_EQ(Refused({"--tls_cert_file=" + Cert("server.pem")}, &log), 2);
  EXPECT_THAT(log, HasSubstr("tls_cert_file needs its pair"));
  EXPECT_EQ(Refused({"--tls_client_ca_file=" + Cert("ca.pem")}, &log), 2);
  EXPECT_THAT(log, HasSubstr("tls_client_ca_file needs TLS"));
  EXPECT_EQ(
      Refused({"--tls_cert_file=" + Cert("server.key"), "--tls_key_file=" + Cert("server.key")},
              &log),
      1);
  EXPECT_THAT(log, HasSubstr("holds no PEM CERTIFICATE"));
  EXPECT_EQ(
      Refused({"--tls_cert_file=" + Cert("missing.pem"), "--tls_key_file=" + Cert("server.key")},
              &log),
      1);
  EXPECT_THAT(log, HasSubstr("tls_cert_file: cannot read"));
}

// The test's authorization policy: the roles of docs/operations.md, each known as the test's
// certificates name it, and a preference centre also known by a bearer token.
std::string AuthzPolicy(const std::string& token) {
  return absl::StrCat(R"({
  "name": "e2e",
  "allow_rules": [
    {"name": "sender", "source": {"principals": ["spiffe://sendgate.test/sender"]},
     "request": {"paths": ["/sendgate.v1.Arbiter/Decide", "/sendgate.v1.Arbiter/DecideStream",
                           "/sendgate.v1.Arbiter/Cancel", "/sendgate.v1.Arbiter/Plan"]}},
    {"name": "transactional-sender", "source": {"principals": ["spiffe://sendgate.test/receipts"]},
     "request": {"paths": ["/sendgate.v1.Arbiter/Decide"]}},
    {"name": "preference-centre",
     "source": {"principals": ["spiffe://sendgate.test/preference-centre"]},
     "request": {"paths": ["/sendgate.v1.Preferences/*"]}},
    {"name": "preference-centre-token",
     "request": {"paths": ["/sendgate.v1.Preferences/*"],
                 "headers": [{"key": "authorization", "values": ["Bearer )",
                      token, R"("]}]}},
    {"name": "admin", "source": {"principals": ["*.admin.sendgate.test"]},
     "request": {"paths": ["/sendgate.v1.Admin/*"]}},
    {"name": "reader", "source": {"principals": ["CN=dashboard"]},
     "request": {"paths": ["/sendgate.v1.Arbiter/GetPressure", "/sendgate.v1.Preferences/Get",
                           "/sendgate.v1.Preferences/History"]}}
  ]
})");
}

class AuthzTest : public TlsTest {
 protected:
  void StartAuthorized(std::vector<std::string> extra = {}) {
    std::ofstream(authz_path()) << AuthzPolicy("token-1");
    extra.insert(extra.end(), {"--tls_client_ca_file=" + Cert("ca.pem"),
                               "--tls_client_cert_optional", "--authz_policy_file=" + authz_path()});
    StartTls(extra);
  }
  std::string authz_path() const { return dir_.path() + "/authz.json"; }

  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& caller) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        ctl::ChannelCredentials(caller.empty() ? ctl::ClientTls{.ca_file = Cert("ca.pem")}
                                               : Client(caller));
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    grpc::ChannelArguments arguments;
    arguments.SetInt("sendgate.test.connection", ++connections_);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(grpc_port_), *credentials,
                                     arguments);
  }
  static void Prepare(grpc::ClientContext& context, const std::string& token = "") {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  }

  // One call of each role's RPCs, as `caller` (a certificate of make_certs.sh, or "" for none
  // with `token`): the codes, by RPC.
  std::map<std::string, grpc::StatusCode> Codes(const std::string& caller,
                                                const std::string& token = "") {
    std::shared_ptr<grpc::Channel> channel = ChannelAs(caller);
    auto arbiter = v1::Arbiter::NewStub(channel);
    auto preferences = v1::Preferences::NewStub(channel);
    auto admin = v1::Admin::NewStub(channel);
    const std::string contact = "contact-" + std::to_string(connections_);
    // One call's code, with its own context.
    auto code = [&token](auto call) {
      grpc::ClientContext context;
      Prepare(context, token);
      return call(&context).error_code();
    };
    v1::CancelRequest cancel;
    cancel.set_contact_id(contact);
    cancel.set_message_id("m-" + contact);
    v1::GetPressureRequest pressure;
    pressure.set_contact_id(contact);
    v1::GetPreferencesRequest get;
    get.set_contact_id(contact);
    v1::UpdatePreferencesRequest update;
    update.set_contact_id(contact);
    update.set_global_opt_out(false);
    update.mutable_evidence()->set_source(v1::Evidence::PREFERENCE_CENTRE);
    v1::HistoryRequest history;
    history.set_contact_id(contact);
    v1::DecideResponse decided;
    v1::CancelResponse cancelled;
    v1::GetPressureResponse pressed;
    v1::ContactPreferences preferred;
    v1::HistoryResponse changes;
    v1::GetPolicyResponse shown;
    std::map<std::string, grpc::StatusCode> codes;
    codes["Decide"] = code(
        [&](auto* c) { return arbiter->Decide(c, Email("m-" + contact, contact), &decided); });
    codes["Cancel"] = code([&](auto* c) { return arbiter->Cancel(c, cancel, &cancelled); });
    codes["GetPressure"] =
        code([&](auto* c) { return arbiter->GetPressure(c, pressure, &pressed); });
    codes["Preferences.Get"] = code([&](auto* c) { return preferences->Get(c, get, &preferred); });
    codes["Preferences.Update"] =
        code([&](auto* c) { return preferences->Update(c, update, &preferred); });
    codes["Preferences.History"] =
        code([&](auto* c) { return preferences->History(c, history, &changes); });
    codes["Admin.GetPolicy"] = code([&](auto* c) { return admin->GetPolicy(c, {}, &shown); });
    return codes;
  }

  // The RPCs of Codes() that answered other than PERMISSION_DENIED.
  std::vector<std::string> Allowed(const std::map<std::string, grpc::StatusCode>& codes) {
    std::vector<std::string> allowed;
    for (const auto& [rpc, code] : codes) {
      EXPECT_NE(code, grpc::StatusCode::UNAVAILABLE) << rpc;
      if (code != grpc::StatusCode::PERMISSION_DENIED) allowed.push_back(rpc);
    }
    return allowed;
  }
};

using ::testing::UnorderedElementsAre;

TEST_F(AuthzTest, EachRoleCallsItsOwnRpcsAndIsRefusedTheOthers) {
  StartAuthorized();
  EXPECT_THAT(Allowed(Codes("client")), UnorderedElementsAre("Decide", "Cancel"));
  EXPECT_THAT(Allowed(Codes("preference-centre")),
              UnorderedElementsAre("Preferences.Get", "Preferences.Update", "Preferences.History"));
  EXPECT_THAT(Allowed(Codes("admin")), UnorderedElementsAre("Admin.GetPolicy"));
  EXPECT_THAT(Allowed(Codes("reader")),
              UnorderedElementsAre("GetPressure", "Preferences.Get", "Preferences.History"));
  // Allowed means answered: each role's own calls succeed.
  for (const auto& [caller, rpc] : std::vector<std::pair<std::string, std::string>>{
           {"client", "Decide"}, {"preference-centre", "Preferences.Update"},
           {"admin", "Admin.GetPolicy"}, {"reader", "GetPressure"}}) {
    EXPECT_EQ(Codes(caller)[rpc], grpc::StatusCode::OK) << caller << " " << rpc;
  }
  // Denied by default: no certificate and no token, or a certificate no rule names.
  EXPECT_THAT(Allowed(Codes("")), ::testing::IsEmpty());
  grpc::ClientContext context;
  Prepare(context);
  v1::DecideResponse response;
  const grpc::Status refused =
      v1::Arbiter::NewStub(ChannelAs("admin"))->Decide(&context, Email("m-x"), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("/sendgate.v1.Arbiter/Decide: not allowed"));
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/metrics")),
              HasSubstr("code=\"PERMISSION_DENIED\""));
}

TEST_F(AuthzTest, ASenderIsRefusedACategoryOrADryRunItMayNotDeclare) {
  StartAuthorized();
  auto sender = v1::Arbiter::NewStub(ChannelAs("client"));
  v1::DecideRequest promotion = Email("promo-as-receipt", "contact-audit");
  promotion.set_category("transactional");
  grpc::ClientContext context;
  Prepare(context);
  v1::DecideResponse response;
  const grpc::Status refused = sender->Decide(&context, promotion, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("category: caller 'sender' may not send 'transactional'"));

  grpc::ClientContext receipt_context;
  Prepare(receipt_context);
  EXPECT_TRUE(v1::Arbiter::NewStub(ChannelAs("receipts"))
                  ->Decide(&receipt_context, promotion, &response)
                  .ok());
  EXPECT_EQ(response.outcome(), v1::ALLOW);

  v1::DecideRequest dry = Email("dry", "contact-audit");
  dry.set_dry_run(true);
  grpc::ClientContext dry_context;
  Prepare(dry_context);
  const grpc::Status no_dry_run = sender->Decide(&dry_context, dry, &response);
  EXPECT_EQ(no_dry_run.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(no_dry_run.error_message(), HasSubstr("dry_run: caller 'sender'"));

  // In a stream, the refused request gets its own DENY and the others their answers.
  grpc::ClientContext stream_context;
  Prepare(stream_context);
  auto stream = sender->DecideStream(&stream_context);
  v1::DecideRequest allowed = Email("stream-ok", "contact-stream");
  v1::DecideRequest receipt = Email("stream-receipt", "contact-stream");
  receipt.set_category("transactional");
  ASSERT_TRUE(stream->Write(receipt));
  ASSERT_TRUE(stream->Write(allowed));
  stream->WritesDone();
  std::map<std::string, v1::DecideResponse> answers;
  for (v1::DecideResponse answer; stream->Read(&answer);) answers[answer.message_id()] = answer;
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answers["stream-ok"].outcome(), v1::ALLOW);
  EXPECT_EQ(answers["stream-receipt"].outcome(), v1::DENY);
  ASSERT_EQ(answers["stream-receipt"].reasons_size(), 1);
  EXPECT_EQ(answers["stream-receipt"].reasons(0).code(), v1::Reason::NOT_PERMITTED);
}

TEST_F(AuthzTest, ARotatedTokenIsPickedUpAndABrokenPolicyFileKeepsTheRunningOne) {
  StartAuthorized({"--policy_watch_interval=200ms"});
  EXPECT_THAT(Allowed(Codes("", "token-1")),
              UnorderedElementsAre("Preferences.Get", "Preferences.Update", "Preferences.History"));
  EXPECT_THAT(Allowed(Codes("", "token-2")), ::testing::IsEmpty());
  // The token file's rotation, as a Secret update: the file replaced whole.
  std::ofstream(authz_path() + ".next") << AuthzPolicy("token-2");
  std::filesystem::rename(authz_path() + ".next", authz_path());
  bool rotated = false;
  for (int i = 0; i < 50 && !rotated; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rotated = Codes("", "token-2")["Preferences.Get"] == grpc::StatusCode::OK;
  }
  EXPECT_TRUE(rotated);
  EXPECT_EQ(Codes("", "token-1")["Preferences.Get"], grpc::StatusCode::PERMISSION_DENIED);
  // sendgatectl sends its --token_file.
  std::ofstream(dir_.path() + "/token") << "token-2\n";
  const std::string ctl = absl::StrCat(SENDGATECTL_BINARY, " --timeout=3s --target=127.0.0.1:",
                                       grpc_port_, " --cacert=", Cert("ca.pem"), " ");
  EXPECT_EQ(WEXITSTATUS(std::system(
                (ctl + "--token_file=" + dir_.path() + "/token prefs get c-1 > /dev/null").c_str())),
            0);
  EXPECT_EQ(WEXITSTATUS(std::system((ctl + "prefs get c-1 > /dev/null 2>&1").c_str())), 4);

  // A file that becomes invalid: refused with its position, the running policy kept.
  std::ofstream(authz_path() + ".next") << "{\"name\": \"e2e\", \"allow_rules\": [{\"nam\": 1}]}";
  std::filesystem::rename(authz_path() + ".next", authz_path());
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    refused = Log().find("authorization policy refused") != std::string::npos;
  }
  EXPECT_TRUE(refused);
  EXPECT_THAT(Log(), HasSubstr("authz.json:1:34: unknown key 'nam' in allow_rules[0]"));
  EXPECT_THAT(Body(HttpGet(metrics_port_, "/metrics")),
              HasSubstr("\nsendgate_authz_policy_last_reload_successful 0\n"));
  EXPECT_EQ(Codes("", "token-2")["Preferences.Get"], grpc::StatusCode::OK);
  EXPECT_EQ(Codes("client")["Decide"], grpc::StatusCode::OK);
}

TEST_F(AuthzTest, ABadAuthorizationPolicyStopsSendgateAtStart) {
  std::ofstream(authz_path()) << "{\"name\": \"e2e\",\n \"allow_rules\": [{\"name\": \"a b\"}]}";
  std::string log;
  EXPECT_EQ(Refused({"--authz_policy_file=" + authz_path()}, &log), 1);
  EXPECT_THAT(log, HasSubstr("authz.json:2:27: allow_rules[0].name 'a b' must be 1 to 64"));
  EXPECT_EQ(Refused({"--authz_policy_file=" + dir_.path() + "/none.json"}, &log), 1);
  EXPECT_THAT(log, HasSubstr("none.json: cannot open"));
}

class RedisAuthTest : public SendgateTest {
 protected:
  // sendgate on the ACL-protected Redis, launched by `env` with `environment` (VAR=VALUE ...).
  std::unique_ptr<Process> Start(const std::vector<std::string>& environment,
                                 const std::vector<std::string>& flags, int* port) {
    *port = FreePort();
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), environment.begin(), environment.end());
    argv.insert(argv.end(),
                {SENDGATE_BINARY, "--policy=" + policy_path_, "--redis=" + secured_.address(),
                 "--listen=127.0.0.1:" + std::to_string(*port), "--metrics_listen=127.0.0.1:0",
                 "--redis_user=sendgate"});
    argv.insert(argv.end(), flags.begin(), flags.end());
    std::filesystem::remove(auth_log());
    return std::make_unique<Process>(argv, auth_log());
  }
  std::string auth_log() const { return secured_dir_.path() + "/sendgate.log"; }
  std::string AuthLog() const {
    std::ifstream in(auth_log());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  grpc::Status DecideOn(int port, v1::DecideResponse* response) {
    auto stub = v1::Arbiter::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                         grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return stub->Decide(&context, Email("m-auth"), response);
  }
  std::string password_file() const { return secured_dir_.path() + "/redis.password"; }

  TempDir secured_dir_;
  RedisServer secured_{RedisArguments(secured_dir_, /*acl=*/true)};
};

TEST_F(RedisAuthTest, SendgateAuthenticatesAsTheAclUser) {
  int port = 0;
  std::unique_ptr<Process> sendgate =
      Start({}, {"--redis_password_file=" + password_file()}, &port);
  ASSERT_TRUE(WaitForPort(port, 20)) << AuthLog();
  v1::DecideResponse response;
  ASSERT_TRUE(DecideOn(port, &response).ok());
  EXPECT_EQ(response.outcome(), v1::ALLOW);
  EXPECT_FALSE(response.degraded()) << AuthLog();
  std::ifstream cmdline("/proc/" + std::to_string(sendgate->pid()) + "/cmdline");
  const std::string command_line((std::istreambuf_iterator<char>(cmdline)), {});
  EXPECT_THAT(command_line, ::testing::Not(HasSubstr(kRedisAclPassword)));
  EXPECT_THAT(secured_.Cli({"ACL", "LOG"}), ::testing::Not(HasSubstr("sendgate")));  // no NOPERM
  sendgate->Kill();
  EXPECT_THAT(AuthLog(), ::testing::Not(HasSubstr(kRedisAclPassword)));

  // The same password from the environment.
  sendgate = Start({std::string("SENDGATE_REDIS_PASSWORD=") + kRedisAclPassword}, {}, &port);
  ASSERT_TRUE(WaitForPort(port, 20)) << AuthLog();
  ASSERT_TRUE(DecideOn(port, &response).ok());
  EXPECT_FALSE(response.degraded()) << AuthLog();
}

TEST_F(RedisAuthTest, RefusedCredentialsStopSendgateWithoutShowingThePassword) {
  std::ofstream(secured_dir_.path() + "/wrong.password") << "not-the-password\n";
  int port = 0;
  std::unique_ptr<Process> sendgate =
      Start({}, {"--redis_password_file=" + secured_dir_.path() + "/wrong.password"}, &port);
  EXPECT_EQ(sendgate->Wait(20), 1);
  EXPECT_THAT(AuthLog(), HasSubstr("refused sendgate's credentials (user 'sendgate')"));
  EXPECT_THAT(AuthLog(), ::testing::Not(HasSubstr("not-the-password")));

  sendgate = Start({std::string("SENDGATE_REDIS_PASSWORD=") + kRedisAclPassword},
                   {"--redis_password_file=" + password_file()}, &port);
  EXPECT_EQ(sendgate->Wait(20), 2);
  EXPECT_THAT(AuthLog(), HasSubstr("both given: keep one"));
  sendgate = Start({}, {"--redis_password_file=" + secured_dir_.path() + "/none"}, &port);
  EXPECT_EQ(sendgate->Wait(20), 2);
  EXPECT_THAT(AuthLog(), HasSubstr("redis_password_file: cannot read"));
  sendgate = Start({}, {}, &port);
  EXPECT_EQ(sendgate->Wait(20), 2);
  EXPECT_THAT(AuthLog(), HasSubstr("redis_user: 'sendgate' needs --redis_password_file"));
}

}  // namespace
}  // namespace sendgate::testing
