// Test harness: child processes (redis-server, the sendgate binary) and free loopback ports.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sendgate::testing {

// A TCP port on 127.0.0.1 that nothing listens on right now.
int FreePort();
// Whether a TCP port on 127.0.0.1 can be bound right now.
bool IsFree(int port);

// A child process, killed (SIGKILL) when destroyed unless it was stopped before.
class Process {
 public:
  // Starts `argv[0]` with `argv`; its stdout and stderr go to `log_path` (appended).
  Process(std::vector<std::string> argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Waits for the process to exit; returns its exit status, or -1 when it was killed by a
  // signal or did not exit within `seconds`.
  int Wait(double seconds);
  void Kill();

 private:
  pid_t pid_ = -1;
};

// Returns true once something accepts TCP connections on 127.0.0.1:`port`.
bool WaitForPort(int port, double seconds);

// A temporary directory, removed with its contents when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sendgate::testing
