// sendgatectl: the operators' and support staff's command line for a running sendgate.
//   sendgatectl [--target=HOST:PORT] [--json] [--timeout=5s] COMMAND ...
// Commands and exit codes: docs/operations.md, "sendgatectl", and commands.h.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "service/ctl/client_tls.h"
#include "service/ctl/commands.h"

ABSL_FLAG(std::string, target, "",
          "the sendgate to talk to, HOST:PORT (127.0.0.1:50051 when not given); policy check "
          "asks it only when given");
ABSL_FLAG(std::string, cacert, "",
          "TLS: the CA certificates (PEM) that sign sendgate's certificate; empty: plaintext");
ABSL_FLAG(std::string, cert, "", "mutual TLS: this client's certificate chain (PEM)");
ABSL_FLAG(std::string, key, "", "mutual TLS: the private key of --cert (PEM)");
ABSL_FLAG(std::string, token_file, "",
          "a bearer token (the file's first line) sent as `authorization: Bearer TOKEN`, for "
          "callers the authorization policy knows by token; use it over TLS");
ABSL_FLAG(bool, json, false, "print one JSON object instead of tables");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "how long each call may take");

namespace {

constexpr char kUsage[] = R"(sendgatectl [--target=HOST:PORT] [--json] [--timeout=5s] COMMAND
            [--cacert=CA.pem [--cert=CLIENT.pem --key=CLIENT-KEY.pem]]  (TLS, mutual TLS)
            [--token_file=FILE]  (a bearer token for the authorization policy)

Commands:
  decide --contact=ID --channel=CH [--category= --subscription= --program= --campaign=
         --edition= --priority= --weight= --segments=a,b --timezone= --send_at= --expires_at=]
                       what sendgate would answer now; records nothing (a dry run)
  explain CONTACT      preferences, usage per rule, next free slot per channel, history
  prefs get CONTACT    the contact's preferences
  prefs set CONTACT    change them: --opt_out= --subscribe= --unsubscribe= --block= --unblock=
                       --pause_until= --clear_pause --frequency= --clear_frequency=
                       --timezone= --segments= --expected_version= --actor= --text_version=
  policy show          the policy in force and the last reload
  policy check FILE... validate policy files offline, with sendgate's own loader (shadow
                       candidates too; FILE.json: an authorization policy); with --target,
                       ask that running sendgate instead
  policy diff OLD NEW  what changes between two policy files, rule by rule (offline)
  config check FILE... validate sendgate config files (--config) offline: every setting, and
                       the policy, shadow and authorization policy files they name
  reload               read the policy file again (as SIGHUP)

Exit codes: 0 done (decide: ALLOW; checks: valid; diff: none), 1 DENY / invalid / differences /
reload refused, 2 bad command line, 3 DEFER, 4 request refused by sendgate, 5 sendgate
unreachable or failing.)";

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> words(positional.begin() + 1, positional.end());
  if (words.empty()) {
    std::cerr << kUsage << "\n";
    return sendgate::ctl::kUsage;
  }
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      sendgate::ctl::ChannelCredentials({.ca_file = absl::GetFlag(FLAGS_cacert),
                                         .cert_file = absl::GetFlag(FLAGS_cert),
                                         .key_file = absl::GetFlag(FLAGS_key)});
  if (!credentials.ok()) {
    std::cerr << "sendgatectl: " << credentials.status().message() << "\n";
    return sendgate::ctl::kUsage;
  }
  absl::StatusOr<std::string> authorization =
      sendgate::ctl::BearerAuthorization(absl::GetFlag(FLAGS_token_file));
  if (!authorization.ok()) {
    std::cerr << "sendgatectl: " << authorization.status().message() << "\n";
    return sendgate::ctl::kUsage;
  }
  sendgate::ctl::Context context{
      .target = absl::GetFlag(FLAGS_target),
      .credentials = *credentials,
      .authorization = *authorization,
      .json = absl::GetFlag(FLAGS_json),
      .timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)),
      .out = std::cout,
      .err = std::cerr};
  using Command = int (*)(sendgate::ctl::Context&, const std::vector<std::string>&);
  const std::map<std::string, Command> commands = {
      {"decide", sendgate::ctl::Decide}, {"explain", sendgate::ctl::Explain},
      {"prefs", sendgate::ctl::Prefs},   {"policy", sendgate::ctl::Policy},
      {"reload", sendgate::ctl::Reload}, {"config", sendgate::ctl::Config}};
  const auto command = commands.find(words[0]);
  if (command == commands.end()) {
    std::cerr << "sendgatectl: unknown command '" << words[0] << "'\n\n" << kUsage << "\n";
    return sendgate::ctl::kUsage;
  }
  return command->second(context, std::vector<std::string>(words.begin() + 1, words.end()));
}
