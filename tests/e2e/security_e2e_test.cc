// Who may reach sendgate and what sendgate reaches, end to end. TLS on the gRPC port, with
// certificates openssl makes for the test (make_certs.sh): a TLS client is served and a
// plaintext one refused; mutual TLS refuses a caller without a certificate, or with an expired,
// revoked or foreign one; a certificate rotated on disk is served to new connections without a
// restart; sendgatectl speaks TLS; --require_tls and half-given TLS settings stop sendgate at
// start. Redis AUTH as the shipped ACL's user, with the password from a file or the
// environment, never on the command line or in the log.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
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
