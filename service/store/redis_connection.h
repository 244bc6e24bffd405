// One hiredis async connection on its own event-loop thread (libevent). Commands are submitted
// from any thread and pipelined in submission order; no thread ever waits on Redis.
// hiredis 0.14 has no command or connect timeouts: every command carries a deadline that this
// class enforces itself, a connection that stops answering is dropped and reopened, and while
// it is down commands fail at once instead of queueing.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/store/script.h"

struct event;
struct event_base;
struct redisAsyncContext;
struct redisReply;

namespace sendgate::store {

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  absl::Duration connect_timeout = absl::Seconds(1);
  // No reply at all for this long while commands wait: the connection is dropped and reopened.
  absl::Duration stall_timeout = absl::Seconds(2);
  absl::Duration reconnect_min = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Seconds(2);
  size_t max_in_flight = 100000;  // beyond this, commands fail at once (Redis cannot keep up)
};

// What connections report to whoever watches them (metrics); called on their loop threads.
struct ConnectionEvents {
  std::function<void(bool connected)> on_state;
  std::function<void()> on_noscript;
};

class RedisConnection {
 public:
  // Called exactly once, on the loop thread or (when the connection is down) on the caller's:
  // with the reply (valid during the call only; it may be a Redis error reply), or with
  // UNAVAILABLE (not connected, connection lost, overloaded) or DEADLINE_EXCEEDED.
  using Callback = absl::AnyInvocable<void(absl::StatusOr<const redisReply*>)>;

  // Starts the loop thread, which connects and keeps reconnecting.
  RedisConnection(ConnectionOptions options, ConnectionEvents events);
  // Stops the loop; commands still waiting get UNAVAILABLE.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // `wire` is one command in RESP form (see resp.h).
  void Send(std::string wire, absl::Time deadline, Callback done);
  // An EVALSHA of `script` (built with ScriptCall()); on NOSCRIPT it is sent again as EVAL.
  void SendScript(const Script& script, std::string wire, absl::Time deadline, Callback done);

  bool connected() const { return state_.load(std::memory_order_relaxed) == State::kConnected; }

 private:
  enum class State { kConnecting, kConnected, kDown };
  struct Pending {
    std::string wire;
    const Script* script = nullptr;
    absl::Time deadline;
    absl::Time sent_at;
    Callback done;
    bool answered = false;
  };

  void Submit(Pending* pending);
  void Run();
  void Connect();
  void Drop(bool reconnect);
  void ScheduleReconnect();
  void DrainInbox();
  void Dispatch(Pending* pending);
  void CheckDeadlines();
  // The deadline tick runs only while a command waits or a connection is being made.
  void StartTicking();
  void SetState(State state);
  static void Answer(Pending& pending, absl::StatusOr<const redisReply*> reply);

  static void OnWake(int fd, short what, void* self);
  static void OnTick(int fd, short what, void* self);
  static void OnReconnectTimer(int fd, short what, void* self);
  static void OnConnect(const redisAsyncContext* context, int status);
  static void OnDisconnect(const redisAsyncContext* context, int status);
  static void OnReply(redisAsyncContext* context, void* reply, void* pending);

  const ConnectionOptions options_;
  ConnectionEvents events_;
  std::atomic<State> state_{State::kConnecting};

  // Shared with submitting threads.
  std::mutex inbox_mutex_;
  std::vector<Pending*> inbox_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  int wake_fd_ = -1;

  // Loop thread only.
  event_base* base_ = nullptr;
  event* wake_event_ = nullptr;
  event* tick_event_ = nullptr;
  bool ticking_ = false;
  event* reconnect_event_ = nullptr;
  redisAsyncContext* context_ = nullptr;
  absl::Time connect_started_;
  absl::Time last_reply_;
  absl::Duration backoff_;
  std::deque<Pending*> in_flight_;  // sent, in reply order
  std::thread thread_;
};

}  // namespace sendgate::store
