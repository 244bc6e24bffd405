// A real redis-server for integration and e2e tests, on a free port, in a temporary directory.
// Kill() and Start() let a test take Redis away mid-test and bring it back on the same port.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace sendgate::testing {

class RedisServer {
 public:
  // Starts at once; `extra` are more redis-server arguments ("--appendonly", "yes";
  // "--cluster-enabled", "yes" picks a port whose cluster-bus port is free too).
  explicit RedisServer(std::vector<std::string> extra = {});

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void Start();
  void Kill();
  // SIGSTOP / SIGCONT: Redis stops answering without closing connections.
  void Pause();
  void Resume();

  // Runs redis-cli with `args` and returns its output, trailing newline removed.
  std::string Cli(const std::vector<std::string>& args) const;
  // The same, with `last` as the command's last argument, read from stdin (redis-cli -x):
  // any bytes, no shell quoting.
  std::string CliWithLast(const std::vector<std::string>& args, const std::string& last) const;

 private:
  std::string Cli(const std::vector<std::string>& args, const std::string& input_path) const;

  TempDir dir_;
  int port_;
  std::vector<std::string> extra_;
  std::unique_ptr<Process> process_;
};

}  // namespace sendgate::testing
