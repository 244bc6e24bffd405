// sendgatectl's commands, each talking gRPC to a running sendgate (docs/operations.md,
// "sendgatectl"). A command prints a readable table, or with --json one JSON object (the
// response messages with their proto field names), and returns its exit code.
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
  std::shared_ptr<grpc::Channel> channel;
  bool json = false;
  std::chrono::milliseconds timeout{5000};
  std::ostream& out;
  std::ostream& err;
};

// `words` are the command line's words after the command's name.
int Decide(Context& context, const std::vector<std::string>& words);
int Explain(Context& context, const std::vector<std::string>& words);
int Prefs(Context& context, const std::vector<std::string>& words);
int Policy(Context& context, const std::vector<std::string>& words);
int Reload(Context& context, const std::vector<std::string>& words);

// The exit code of a failed call, with its message printed on `err`.
int CallFailed(Context& context, const grpc::Status& status);

}  // namespace sendgate::ctl
