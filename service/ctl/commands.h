// sendgatectl's commands (docs/operations.md, "sendgatectl"): most talk gRPC to a running
// sendgate; `policy check` (without --target), `policy diff` and `config check` work on files
// alone, with the server's own loaders, and open no connection. A command prints a readable
// table, or with --json one JSON object (the response messages with their proto field names),
// and returns its exit code.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace sendgate::ctl {

// Exit codes, for scripts.
enum Exit : int {
  kOk = 0,           // done; decide: ALLOW; policy check: valid; policy diff: no difference
  kNo = 1,           // decide: DENY; policy check: invalid; diff: differences; reload refused
  kUsage = 2,        // bad command line, unreadable file
  kDeferred = 3,     // decide: DEFER
  kRefused = 4,      // the service refused the request (INVALID_ARGUMENT, NOT_FOUND ...)
  kUnreachable = 5,  // the service did not answer, or failed (UNAVAILABLE, DEADLINE_EXCEEDED ...)
};

struct Context {
  std::string target;  // --target as given; empty when it was not
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // plaintext or TLS
  std::string authorization;  // "Bearer TOKEN" sent with each call (--token_file), or ""
  bool json = false;
  std::chrono::milliseconds timeout{5000};
  std::ostream& out;
  std::ostream& err;
  std::shared_ptr<grpc::Channel> channel = nullptr;  // made by Channel() on first use

  // The channel to the sendgate at `target` (127.0.0.1:50051 when empty).
  std::shared_ptr<grpc::Channel> Channel();
};

// `words` are the command line's words after the command's name.
int Decide(Context& context, const std::vector<std::string>& words);
int Explain(Context& context, const std::vector<std::string>& words);
int Prefs(Context& context, const std::vector<std::string>& words);
int Policy(Context& context, const std::vector<std::string>& words);
int Reload(Context& context, const std::vector<std::string>& words);
int Config(Context& context, const std::vector<std::string>& words);

// The exit code of a failed call, with its message printed on `err`.
int CallFailed(Context& context, const grpc::Status& status);

}  // namespace sendgate::ctl
