#include "tests/support/redis_server.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace sendgate::testing {

namespace {

// A cluster node also listens on port + 10000 (its cluster bus): both must be free.
int FreeClusterPort() {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = FreePort();
    if (port + 10000 <= 65535 && IsFree(port + 10000)) return port;
  }
  throw std::runtime_error("no free port pair for a Redis Cluster node");
}

}  // namespace

RedisServer::RedisServer(std::vector<std::string> extra) : extra_(std::move(extra)) {
  const bool cluster =
      std::find(extra_.begin(), extra_.end(), "--cluster-enabled") != extra_.end();
  port_ = cluster ? FreeClusterPort() : FreePort();
  Start();
}

void RedisServer::Start() {
  // A replica synchronizes at once (a primary waits 5 s for more replicas by default, which
  // made a test waiting 5 s for its replica's link flaky); DEBUG SLEEP is allowed.
  std::vector<std::string> argv = {"redis-server", "--port", std::to_string(port_),
                                   "--bind", "127.0.0.1", "--dir", dir_.path(),
                                   "--save", "", "--appendonly", "no",
                                   "--repl-diskless-sync-delay", "0",
                                   "--enable-debug-command", "local"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  process_ = std::make_unique<Process>(argv, dir_.path() + "/redis.log");
  if (!WaitForPort(port_, 10)) throw std::runtime_error("redis-server did not start");
}

void RedisServer::Kill() { process_.reset(); }
void RedisServer::Pause() { process_->Signal(SIGSTOP); }
void RedisServer::Resume() { process_->Signal(SIGCONT); }

std::string RedisServer::CliWithLast(const std::vector<std::string>& args,
                                     const std::string& last) const {
  const std::string path = dir_.path() + "/cli-input";
  std::ofstream(path, std::ios::binary) << last;
  std::vector<std::string> with_input = {"-x"};
  with_input.insert(with_input.end(), args.begin(), args.end());
  return Cli(with_input, path);
}

std::string RedisServer::Cli(const std::vector<std::string>& args) const { return Cli(args, ""); }

std::string RedisServer::Cli(const std::vector<std::string>& args,
                             const std::string& input_path) const {
  std::string command = "redis-cli -p " + std::to_string(port_);
  for (const std::string& arg : args) command += " '" + arg + "'";
  if (!input_path.empty()) command += " < '" + input_path + "'";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  pclose(pipe);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace sendgate::testing
