// One hiredis async connection on its own event-loop thread (libevent). Commands are submitted
// from any thread and pipelined; no thread ever waits on Redis. A command submitted while the
// loop is idle is written to the socket by the submitting thread itself (the loop then only
// wakes for the reply); otherwise it goes through an inbox the loop drains, which pipelines
// what arrives while it works. Everything the loop touches is guarded by one mutex that the
// loop holds while it runs a callback and a submitter only ever tries (never waits for).
// hiredis 0.14 has no command or connect timeouts: every command carries a deadline that this
// class enforces itself, a connection that stops answering is dropped and reopened, and while
// it is down commands fail at once instead of queueing. hiredis also resolves host names
// synchronously: a name is resolved on a thread of its own, so that a slow DNS server never
// stalls the loop and the deadlines it keeps.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/store/circuit_breaker.h"
#include "service/store/lua_library.h"
#include "service/store/reply_arena.h"

struct event;
struct event_base;
struct redisAsyncContext;
struct redisReply;

namespace sendgate::store {

// A host name -> one numeric address ("10.0.0.7", "::1"), or why not. May block.
using Resolver = std::function<absl::StatusOr<std::string>(const std::string& host)>;

// The system's resolver (getaddrinfo: /etc/hosts, DNS with the search domains of
// /etc/resolv.conf, as Kubernetes service names need).
absl::StatusOr<std::string> ResolveWithSystem(const std::string& host);

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Redis AUTH on every connection, before any other command: an ACL user (empty: the
  // `default` user) and its password (empty: no AUTH). Never logged.
  std::string user;
  std::string password;
  // From the start of an attempt (name resolution included) to an established connection.
  absl::Duration connect_timeout = absl::Seconds(1);
  // No reply at all for this long while commands wait: the connection is dropped and reopened.
  absl::Duration stall_timeout = absl::Seconds(2);
  absl::Duration reconnect_min = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Seconds(2);
  size_t max_in_flight = 100000;  // beyond this, commands fail at once (Redis cannot keep up)
  BreakerOptions breaker;  // the node's circuit breaker (NodeBreaker())
  Resolver resolve = &ResolveWithSystem;  // used when `host` is not a numeric address
};

// What connections, the cluster router and the store report to whoever watches them
// (metrics); called on the connections' loop threads.
struct ConnectionEvents {
  std::function<void(bool connected)> on_state;
  std::function<void()> on_library_reload;  // a function was not found: the library is loaded
  // On a Redis Cluster: a call sent again to the node a MOVED or an ASK names ("moved",
  // "ask"), or after a wait for a TRYAGAIN or a CLUSTERDOWN ("retry").
  std::function<void(absl::string_view kind)> on_redirect;
  // On a Redis Cluster: a change-feed entry not written (the change itself was, and is in the
  // consent trail).
  std::function<void()> on_feed_entry_lost;
  // A node's circuit breaker opened (its calls fail at once) or closed again.
  std::function<void(bool open)> on_circuit;
  // Redis answered a command, this long after it was written (its round trip and execution).
  std::function<void(absl::Duration)> on_reply;
};

class RedisConnection {
 public:
  // Called exactly once, on the loop thread or (when the connection is down) on the caller's:
  // with the reply (valid during the call only; it may be a Redis error reply), or with a
  // store error (store_error.h): kUnavailable, kOverloaded, kTimeout or kCircuitOpen.
  using Callback = absl::AnyInvocable<void(absl::StatusOr<const redisReply*>)>;

  // Starts the loop thread, which connects and keeps reconnecting. `breaker` (the node's,
  // shared by its connections) refuses calls at once while it is open.
  RedisConnection(ConnectionOptions options, ConnectionEvents events,
                  std::shared_ptr<CircuitBreaker> breaker);
  // Stops the loop; commands still waiting get kUnavailable.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // `wire` is one command in RESP form (FormatCommand()).
  void Send(std::string wire, absl::Time deadline, Callback done);
  // `wire` is an FCALL of a function of the library (FormatFcall()). When Redis does not know
  // the function (a new Redis, FUNCTION FLUSH), the library is loaded and the same call sent
  // again, once. With `replicas` > 0, a reply saying the function wrote (1, or an array whose
  // first element is 1) is answered only once that many replicas have the write (WAIT on this
  // connection, within the deadline); if fewer do in time, the call fails as kUnavailable
  // marked WrittenOnPrimary() (the write stands on the primary), as it does when the
  // connection is lost during the WAIT.
  void SendFcall(std::string wire, absl::Time deadline, Callback done, int replicas = 0);
  // ASKING, then `wire` right after it on this connection (a Redis Cluster node importing the
  // slot serves that one command: an ASK redirection). Rare, so always through the loop.
  void SendAsking(std::string wire, bool function_call, absl::Time deadline, Callback done,
                  int replicas = 0);

  bool connected() const { return state_.load(std::memory_order_relaxed) == State::kConnected; }

 private:
  enum class State { kConnecting, kConnected, kDown };
  struct Pending {
    std::string wire;            // an FCALL's is kept until answered, to send it again
    bool function_call = false;  // an FCALL, sent again once after the library is loaded
    int replicas = 0;            // > 0: a write answered after WAIT confirms that many replicas
    bool holds_connection = false;  // a WAIT: Redis runs nothing after it on this connection
    absl::Time deadline;
    absl::Time sent_at;
    Callback done;
    bool answered = false;
  };
  // Where a resolver thread leaves its answer; shared, since the thread may outlive us.
  struct Resolution;

  // Answers `done` at once when the call cannot go: the connection is down, or the node's
  // breaker is open; true then.
  bool Refused(Callback& done);
  void Submit(Pending* pending);
  // Puts `pendings` in the inbox together, so that the loop writes them one after the other.
  void Enqueue(std::initializer_list<Pending*> pendings);
  // Writes `pending` from this (non-loop) thread when the loop is idle, the connection up with
  // nothing left to write, and the deadline timer armed before the command's deadline (so that
  // the loop wakes in time to enforce it); false: the inbox must take it.
  bool TryWriteDirect(Pending* pending);
  // A command is on its way: in the reply order, timed from now.
  void Record(Pending* pending);
  // The loop finishes what a direct write left (a partial write, or a write error to report).
  void RequestFlush();
  void LoadLibrary(absl::Time deadline);
  // `pending` was answered `reply`, a write: WAIT for its replicas, then answer it.
  void WaitForReplicas(Pending* pending, const redisReply* reply);
  void Loop();  // the loop thread: connects, then runs the loop
  void Connect();
  void ConnectTo(const std::string& address);
  void StartResolving();
  void TakeResolution();
  void Drop(bool reconnect);
  void ScheduleReconnect();
  void DrainInbox();
  void Dispatch(Pending* pending);
  void CheckDeadlines();
  // The deadline timer is one-shot, armed at the earliest instant something may be due: a
  // waiting command's deadline, the oldest one's stall limit, the end of a connection attempt.
  // It wakes the loop only then (a periodic tick woke it every millisecond while commands
  // waited: most of the loop's wake-ups at moderate load).
  void ArmDeadlineTimer(absl::Time due);
  // The earliest such instant for the commands waiting now (InfiniteFuture: none).
  absl::Time NextDue() const;
  void SetState(State state);
  static void Answer(Pending& pending, absl::StatusOr<const redisReply*> reply);

  static void OnWake(int fd, short what, void* self);
  static void OnDeadlineTimer(int fd, short what, void* self);
  // hiredis's event adapter, ours so that the loop holds io_mutex_ while hiredis runs.
  struct Adapter;
  void Attach();
  static void OnReconnectTimer(int fd, short what, void* self);
  static void OnConnect(const redisAsyncContext* context, int status);
  // The connection is up once Redis has accepted AUTH (or at once without a password).
  void Authenticate();
  static void OnAuth(redisAsyncContext* context, void* reply, void* unused);
  void Connected();
  static void OnDisconnect(const redisAsyncContext* context, int status);
  static void OnReply(redisAsyncContext* context, void* reply, void* pending);

  const ConnectionOptions options_;
  ConnectionEvents events_;
  const std::shared_ptr<CircuitBreaker> breaker_;
  std::atomic<State> state_{State::kConnecting};

  // Shared with submitting threads.
  std::mutex inbox_mutex_;
  std::vector<Pending*> inbox_;
  bool wake_pending_ = false;
  bool flush_needed_ = false;
  bool stopping_ = false;
  int wake_fd_ = -1;

  // The loop thread's while it runs a callback, a submitter's while it writes directly; guards
  // everything below.
  std::mutex io_mutex_;
  std::atomic<std::thread::id> loop_thread_{};
  // hiredis writes without the write event (a submitter, or the loop draining the inbox): the
  // adapter leaves libevent alone.
  bool direct_write_ = false;
  event_base* base_ = nullptr;
  event* wake_event_ = nullptr;
  event* deadline_event_ = nullptr;
  absl::Time deadline_armed_at_ = absl::InfiniteFuture();  // InfiniteFuture: not armed
  event* reconnect_event_ = nullptr;
  redisAsyncContext* context_ = nullptr;
  ReplyArena reply_arena_;  // where context_'s reader builds replies
  std::shared_ptr<Resolution> resolution_;  // while a name is being resolved
  absl::Time connect_started_;
  absl::Duration backoff_;
  std::deque<Pending*> in_flight_;  // sent, in reply order
  absl::Time last_activity_;        // the last command written
  std::thread thread_;
};

// The connections to one Redis node (a standalone Redis, or a primary of a cluster), with the
// node's circuit breaker, which they share and which logs its changes and reports them to
// `events.on_circuit`. `for_calls` connections share the calls, a contact always on the same
// one; with `waits_apart`, one more is kept for the calls that WAIT for replicas: Redis runs
// nothing after a WAIT on its connection until it answers, so on a shared connection a write
// waiting for a replica that is down would hold the decisions behind it.
class NodeConnections {
 public:
  NodeConnections(const ConnectionOptions& options, const ConnectionEvents& events, int for_calls,
                  bool waits_apart);

  // The connection of a call on a contact whose names hash to `spread`; `replicas` > 0: a call
  // that WAITs for them.
  RedisConnection& For(uint64_t spread, int replicas) const;
  bool connected() const;  // every connection is up
  // Connected, and the breaker closed: the node answers, and in time.
  bool answering() const { return breaker_->closed() && connected(); }

 private:
  std::shared_ptr<CircuitBreaker> breaker_;
  std::vector<std::unique_ptr<RedisConnection>> calls_;
  std::unique_ptr<RedisConnection> waits_;  // nullptr: calls that wait go with the others
};

}  // namespace sendgate::store
