#include "service/store/redis_connection.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/metrics/log.h"
#include "service/store/blocking_redis.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

using metrics::Log;
using metrics::Severity;

bool IsErrorStartingWith(const redisReply* reply, absl::string_view prefix) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
         absl::StartsWith(absl::string_view(reply->str, reply->len), prefix);
}

bool IsFunctionNotFound(const redisReply* reply) {
  return IsErrorStartingWith(reply, "ERR Function not found");
}

// Whether a function that waits for replicas says it wrote: 1, or an array whose first element
// is 1 (0 or {0}: the version had moved, nothing was written, nothing to wait for).
bool Wrote(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) reply = reply->element[0];
  return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

// A deep copy of `reply`, allocated as hiredis allocates (freeReplyObject frees it).
redisReply* CopyReply(const redisReply* reply) {
  auto* copy = static_cast<redisReply*>(calloc(1, sizeof(redisReply)));
  copy->type = reply->type;
  copy->integer = reply->integer;
  if (reply->str != nullptr) {
    copy->str = static_cast<char*>(malloc(reply->len + 1));
    memcpy(copy->str, reply->str, reply->len);
    copy->str[reply->len] = '\0';
    copy->len = reply->len;
  }
  if (reply->element != nullptr) {
    copy->element = static_cast<redisReply**>(calloc(reply->elements, sizeof(redisReply*)));
    copy->elements = reply->elements;
    for (size_t i = 0; i < reply->elements; ++i) copy->element[i] = CopyReply(reply->element[i]);
  }
  return copy;
}

bool IsNumericAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

void Wake(int fd) {
  const uint64_t one = 1;
  (void)!write(fd, &one, sizeof(one));
}

// While commands are written directly, the deadline timer stays armed this far ahead, so that
// a direct write always finds it armed; after a second without commands it is let go.
const absl::Duration kStandby = absl::Milliseconds(25);
const absl::Duration kStandbyFor = absl::Seconds(1);

// The circuit breaker of the node `options` names: it logs its changes and reports them.
std::shared_ptr<CircuitBreaker> NodeBreaker(const ConnectionOptions& options,
                                            const ConnectionEvents& events) {
  return std::make_shared<CircuitBreaker>(
      options.breaker, [node = absl::StrCat(options.host, ":", options.port),
                        breaker = options.breaker, on_circuit = events.on_circuit](bool open) {
        Log(open ? Severity::kWarning : Severity::kInfo, "store",
            open ? absl::StrCat("Redis at ", node, " let ", breaker.timeouts_to_open,
                                " calls in a row pass their deadline: its calls fail at once, "
                                "one trial every ", absl::FormatDuration(breaker.open_for))
                 : absl::StrCat("Redis at ", node, " answered a trial call in time: its "
                                "circuit breaker is closed"));
        if (on_circuit) on_circuit(open);
      });
}

}  // namespace

// hiredis's libevent adapter (hiredis/adapters/libevent.h), with the loop's lock taken around
// hiredis's handlers, and libevent left alone while a submitter writes directly (libevent is
// used from the loop thread only). The read event persists: hiredis asks for reads again after
// each one, and a one-shot event that libevent removed as it fired was added back each time,
// two epoll_ctl calls per wake-up (loadtest/syscalls.sh: 2 a decision at 2 000/s, where an
// empty RPC makes none).
struct RedisConnection::Adapter {
  RedisConnection* self;
  redisAsyncContext* context;
  event* read_event;
  event* write_event;

  static void OnRead(int, short, void* arg) {
    auto* adapter = static_cast<Adapter*>(arg);
    std::lock_guard<std::mutex> lock(adapter->self->io_mutex_);
    redisAsyncHandleRead(adapter->context);
  }
  static void OnWrite(int, short, void* arg) {
    auto* adapter = static_cast<Adapter*>(arg);
    std::lock_guard<std::mutex> lock(adapter->self->io_mutex_);
    redisAsyncHandleWrite(adapter->context);
  }
  static void Add(event* ev, const Adapter* adapter) {
    if (!adapter->self->direct_write_) event_add(ev, nullptr);
  }
  static void Del(event* ev, const Adapter* adapter) {
    if (!adapter->self->direct_write_) event_del(ev);
  }
  static void AddRead(void* data) { Add(static_cast<Adapter*>(data)->read_event, static_cast<Adapter*>(data)); }
  static void DelRead(void* data) { Del(static_cast<Adapter*>(data)->read_event, static_cast<Adapter*>(data)); }
  static void AddWrite(void* data) { Add(static_cast<Adapter*>(data)->write_event, static_cast<Adapter*>(data)); }
  static void DelWrite(void* data) { Del(static_cast<Adapter*>(data)->write_event, static_cast<Adapter*>(data)); }
  static void Cleanup(void* data) {
    auto* adapter = static_cast<Adapter*>(data);
    event_free(adapter->read_event);
    event_free(adapter->write_event);
    delete adapter;
  }
};

void RedisConnection::Attach() {
  auto* adapter = new Adapter{.self = this, .context = context_};
  adapter->read_event =
      event_new(base_, context_->c.fd, EV_READ | EV_PERSIST, &Adapter::OnRead, adapter);
  adapter->write_event = event_new(base_, context_->c.fd, EV_WRITE, &Adapter::OnWrite, adapter);
  context_->ev = {.data = adapter,
                  .addRead = &Adapter::AddRead,
                  .delRead = &Adapter::DelRead,
                  .addWrite = &Adapter::AddWrite,
                  .delWrite = &Adapter::DelWrite,
                  .cleanup = &Adapter::Cleanup};
  event_add(adapter->read_event, nullptr);
  event_add(adapter->write_event, nullptr);
}

absl::StatusOr<std::string> ResolveWithSystem(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (error != 0 || found == nullptr) {
    return StoreError(StoreErrorKind::kUnavailable,
                      absl::StrCat("cannot resolve ", host, ": ", gai_strerror(error)));
  }
  char address[INET6_ADDRSTRLEN] = {};
  const void* raw = found->ai_family == AF_INET6
                        ? static_cast<const void*>(
                              &reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                        : &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  inet_ntop(found->ai_family, raw, address, sizeof(address));
  freeaddrinfo(found);
  return std::string(address);
}

struct RedisConnection::Resolution {
  explicit Resolution(int connection_wake_fd) : wake_fd(dup(connection_wake_fd)) {}
  ~Resolution() { close(wake_fd); }

  std::mutex mutex;
  std::optional<absl::StatusOr<std::string>> address;  // set by the resolver thread
  const int wake_fd;  // our own duplicate: valid even after the connection is gone
};

RedisConnection::RedisConnection(ConnectionOptions options, ConnectionEvents events,
                                 std::shared_ptr<CircuitBreaker> breaker)
    : options_(std::move(options)),
      events_(std::move(events)),
      breaker_(std::move(breaker)),
      backoff_(options_.reconnect_min) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  base_ = event_base_new();
  wake_event_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &OnWake, this);
  deadline_event_ = event_new(base_, -1, 0, &OnDeadlineTimer, this);
  reconnect_event_ = event_new(base_, -1, 0, &OnReconnectTimer, this);
  event_add(wake_event_, nullptr);
  thread_ = std::thread([this] { Loop(); });
}

RedisConnection::~RedisConnection() {
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    stopping_ = true;
  }
  Wake(wake_fd_);
  thread_.join();
  event_free(wake_event_);
  event_free(deadline_event_);
  event_free(reconnect_event_);
  event_base_free(base_);
  close(wake_fd_);
}

bool RedisConnection::Refused(Callback& done) {
  if (state_.load(std::memory_order_relaxed) == State::kDown) {
    done(StoreError(StoreErrorKind::kUnavailable, "Redis is not connected"));
    return true;
  }
  if (!breaker_->closed() && !breaker_->Admit(absl::Now())) {
    done(StoreError(StoreErrorKind::kCircuitOpen,
                    absl::StrCat("Redis at ", options_.host, ":", options_.port,
                                 " lets calls pass their deadline: refused at once until a "
                                 "trial call is answered in time")));
    return true;
  }
  return false;
}

void RedisConnection::Send(std::string wire, absl::Time deadline, Callback done) {
  if (Refused(done)) return;
  Submit(new Pending{.wire = std::move(wire), .deadline = deadline, .done = std::move(done)});
}

void RedisConnection::SendFcall(std::string wire, absl::Time deadline, Callback done,
                                int replicas) {
  if (Refused(done)) return;
  Submit(new Pending{.wire = std::move(wire),
                     .function_call = true,
                     .replicas = replicas,
                     .deadline = deadline,
                     .done = std::move(done)});
}

void RedisConnection::SendAsking(std::string wire, bool function_call, absl::Time deadline,
                                 Callback done, int replicas) {
  if (Refused(done)) return;
  Enqueue({new Pending{.wire = "*1\r\n$6\r\nASKING\r\n",
                       .deadline = deadline,
                       .done = [](absl::StatusOr<const redisReply*>) {}},
           new Pending{.wire = std::move(wire),
                       .function_call = function_call,
                       .replicas = replicas,
                       .deadline = deadline,
                       .done = std::move(done)}});
}

void RedisConnection::WaitForReplicas(Pending* pending, const redisReply* reply) {
  // Within the call's deadline, and well short of the stall limit: a WAIT that outlasted it
  // would have its connection taken for a stalled one, dropped and reopened (and Redis answers
  // a WAIT's timeout up to a tick of its clock late, 100 ms at its default hz).
  const absl::Duration longest = options_.stall_timeout / 2;
  const int64_t wait_ms = std::max<int64_t>(
      1, absl::ToInt64Milliseconds(std::min(pending->deadline - absl::Now(), longest)));
  const std::string replicas = std::to_string(pending->replicas);
  const std::string timeout = std::to_string(wait_ms);
  Dispatch(new Pending{
      .wire = absl::StrCat("*3\r\n$4\r\nWAIT\r\n$", replicas.size(), "\r\n", replicas, "\r\n$",
                           timeout.size(), "\r\n", timeout, "\r\n"),
      .holds_connection = true,
      .deadline = pending->deadline + absl::Milliseconds(100),  // WAIT answers by its timeout
      .done = [wanted = pending->replicas, answer = OwnedReply(CopyReply(reply)),
               done = std::move(pending->done)](absl::StatusOr<const redisReply*> waited) mutable {
        if (!waited.ok()) {
          return done(WrittenOnPrimary(StoreError(
              KindOf(waited.status()),
              absl::StrCat("the change was written on the Redis primary, but its replicas could "
                           "not be waited for: ",
                           waited.status().message()))));
        }
        if ((*waited)->type != REDIS_REPLY_INTEGER || (*waited)->integer < wanted) {
          return done(WrittenOnPrimary(StoreError(
              StoreErrorKind::kUnavailable,
              absl::StrCat("the change was written on the Redis primary, but ",
                           (*waited)->type == REDIS_REPLY_INTEGER ? (*waited)->integer : 0,
                           " of the ", wanted, " replicas asked for confirmed it in time"))));
        }
        done(answer.get());
      }});
}

void RedisConnection::LoadLibrary(absl::Time deadline) {
  Dispatch(new Pending{
      .wire = FormatLibraryLoad(),
      .deadline = deadline,
      .done = [host = options_.host, port = options_.port](absl::StatusOr<const redisReply*> reply) {
        if (!reply.ok() || (*reply)->type != REDIS_REPLY_ERROR ||
            IsErrorStartingWith(*reply, "ERR Library 'sendgate_")) {
          return;  // loaded, already there, or the connection's own error
        }
        Log(Severity::kError, "store", absl::StrCat(
            "Redis at ", host, ":", port, " refused sendgate's function library (Redis 7.0 or "
            "later is needed): ", absl::string_view((*reply)->str, (*reply)->len)));
      }});
}

void RedisConnection::Submit(Pending* pending) {
  if (TryWriteDirect(pending)) return;
  Enqueue({pending});
}

void RedisConnection::Enqueue(std::initializer_list<Pending*> pendings) {
  bool wake = false;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    stopping = stopping_;
    if (!stopping) {
      inbox_.insert(inbox_.end(), pendings.begin(), pendings.end());
      wake = !wake_pending_;
      wake_pending_ = true;
    }
  }
  if (stopping) {
    for (Pending* pending : pendings) {
      Answer(*pending, StoreError(StoreErrorKind::kUnavailable, "sendgate is shutting down"));
      delete pending;
    }
    return;
  }
  if (wake) Wake(wake_fd_);
}

bool RedisConnection::TryWriteDirect(Pending* pending) {
  if (std::this_thread::get_id() == loop_thread_.load(std::memory_order_relaxed)) {
    return false;  // a reply's callback, on the loop thread, which holds io_mutex_
  }
  std::unique_lock<std::mutex> lock(io_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // the loop works, and drains the inbox next
  if (context_ == nullptr || state_.load(std::memory_order_relaxed) != State::kConnected ||
      sdslen(context_->c.obuf) != 0 || in_flight_.size() >= options_.max_in_flight ||
      deadline_armed_at_ > pending->deadline || absl::Now() >= pending->deadline) {
    return false;
  }
  direct_write_ = true;
  const int queued = redisAsyncFormattedCommand(context_, &OnReply, pending, pending->wire.data(),
                                                pending->wire.size());
  direct_write_ = false;
  if (queued != REDIS_OK) return false;
  Record(pending);
  int written = 0;
  if (redisBufferWrite(&context_->c, &written) != REDIS_OK || written == 0) {
    lock.unlock();
    RequestFlush();
  }
  return true;
}

void RedisConnection::Record(Pending* pending) {
  pending->sent_at = absl::Now();
  last_activity_ = pending->sent_at;
  if (!pending->function_call) std::string().swap(pending->wire);  // written
  in_flight_.push_back(pending);
}

void RedisConnection::RequestFlush() {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    flush_needed_ = true;
    wake = !wake_pending_;
    wake_pending_ = true;
  }
  if (wake) Wake(wake_fd_);
}

void RedisConnection::Loop() {
  {
    std::lock_guard<std::mutex> lock(io_mutex_);
    loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    Connect();
  }
  event_base_dispatch(base_);
}

void RedisConnection::Connect() {
  SetState(State::kConnecting);
  connect_started_ = absl::Now();
  ArmDeadlineTimer(connect_started_ + options_.connect_timeout);
  if (IsNumericAddress(options_.host)) {
    ConnectTo(options_.host);
  } else {
    StartResolving();
  }
}

// One resolution at a time: an attempt that times out while its resolver still runs waits for
// that resolver's answer instead of starting another.
void RedisConnection::StartResolving() {
  if (resolution_ != nullptr) return;
  resolution_ = std::make_shared<Resolution>(wake_fd_);
  std::thread([resolution = resolution_, resolve = options_.resolve, host = options_.host] {
    absl::StatusOr<std::string> address = resolve(host);
    std::lock_guard<std::mutex> lock(resolution->mutex);
    resolution->address = std::move(address);
    Wake(resolution->wake_fd);
  }).detach();
}

void RedisConnection::TakeResolution() {
  if (resolution_ == nullptr) return;
  std::optional<absl::StatusOr<std::string>> address;
  {
    std::lock_guard<std::mutex> lock(resolution_->mutex);
    address = std::move(resolution_->address);
  }
  if (!address.has_value()) return;
  resolution_.reset();
  if (state_.load(std::memory_order_relaxed) != State::kConnecting || context_ != nullptr) {
    return;  // that attempt was given up; the next one resolves again
  }
  if (address->ok()) {
    ConnectTo(**address);
    return;
  }
  static metrics::EveryFewSeconds throttle(5);
  if (throttle.Due()) Log(Severity::kWarning, "store", address->status().message());
  SetState(State::kDown);
  ScheduleReconnect();
}

void RedisConnection::ConnectTo(const std::string& address) {
  context_ = redisAsyncConnect(address.c_str(), options_.port);
  if (context_ == nullptr || context_->err != 0) {
    Log(Severity::kWarning, "store",
        absl::StrCat("cannot connect to Redis at ", options_.host, ":", options_.port, ": ",
                     context_ != nullptr ? context_->errstr : "out of memory"));
    if (context_ != nullptr) redisAsyncFree(context_);
    context_ = nullptr;
    SetState(State::kDown);
    ScheduleReconnect();
    return;
  }
  context_->data = this;
  reply_arena_.Serve(context_->c.reader);
  Attach();
  redisAsyncSetConnectCallback(context_, &OnConnect);
  redisAsyncSetDisconnectCallback(context_, &OnDisconnect);
  LoadLibrary(absl::InfiniteFuture());
}

void RedisConnection::Drop(bool reconnect) {
  if (context_ != nullptr) {
    redisAsyncContext* context = context_;
    context_ = nullptr;  // OnDisconnect ignores a context we dropped ourselves
    redisAsyncFree(context);  // waiting commands are answered kUnavailable
  }
  SetState(State::kDown);
  if (reconnect) ScheduleReconnect();
}

void RedisConnection::ScheduleReconnect() {
  const timeval delay = absl::ToTimeval(backoff_);
  evtimer_add(reconnect_event_, &delay);
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
}

void RedisConnection::DrainInbox() {
  std::vector<Pending*> batch;
  bool stopping = false;
  bool flush = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    batch.swap(inbox_);
    wake_pending_ = false;
    stopping = stopping_;
    flush = flush_needed_;
    flush_needed_ = false;
  }
  // What a direct write left: the rest of its bytes, or its error (which drops the connection).
  if (flush && context_ != nullptr) redisAsyncHandleWrite(context_);
  TakeResolution();
  // The batch is written at once, not on the next write event: the socket is almost always
  // writable, and the event cost an epoll_ctl to add and another to remove, a wake-up apart.
  // Only a full socket leaves the rest to the event. (A connection still being made is
  // written on its event, which tells hiredis that it is made.)
  const bool write_now = context_ != nullptr && (context_->c.flags & REDIS_CONNECTED) != 0;
  direct_write_ = write_now;
  for (Pending* pending : batch) Dispatch(pending);
  direct_write_ = false;
  if (write_now && !batch.empty() && context_ != nullptr) redisAsyncHandleWrite(context_);
  if (stopping) {
    Drop(/*reconnect=*/false);
    event_base_loopbreak(base_);
  }
}

void RedisConnection::Dispatch(Pending* pending) {
  absl::Status refused;
  if (context_ == nullptr) {
    refused = StoreError(StoreErrorKind::kUnavailable, "Redis is not connected");
  } else if (absl::Now() >= pending->deadline) {
    refused = StoreError(StoreErrorKind::kTimeout, "the deadline passed before the command left");
  } else if (in_flight_.size() >= options_.max_in_flight) {
    refused = StoreError(StoreErrorKind::kOverloaded, "too many commands wait for Redis");
  } else if (redisAsyncFormattedCommand(context_, &OnReply, pending, pending->wire.data(),
                                        pending->wire.size()) != REDIS_OK) {
    refused = StoreError(StoreErrorKind::kUnavailable, "the Redis connection is closing");
  }
  if (!refused.ok()) {
    Answer(*pending, refused);
    delete pending;
    return;
  }
  Record(pending);
  ArmDeadlineTimer(in_flight_.size() == 1
                       ? std::min(pending->deadline, pending->sent_at + options_.stall_timeout)
                       : pending->deadline);
}

void RedisConnection::ArmDeadlineTimer(absl::Time due) {
  if (due >= deadline_armed_at_) return;  // armed for earlier already
  deadline_armed_at_ = due;
  const timeval delay = absl::ToTimeval(std::max(due - absl::Now(), absl::ZeroDuration()));
  evtimer_add(deadline_event_, &delay);  // moves the timer if it was armed
}

absl::Time RedisConnection::NextDue() const {
  absl::Time due = absl::InfiniteFuture();
  for (const Pending* pending : in_flight_) {
    if (!pending->answered) due = std::min(due, pending->deadline);
  }
  const State state = state_.load(std::memory_order_relaxed);
  if (state == State::kConnected && !in_flight_.empty()) {
    due = std::min(due, in_flight_.front()->sent_at + options_.stall_timeout);
  }
  if (state == State::kConnecting) due = std::min(due, connect_started_ + options_.connect_timeout);
  return due;
}

void RedisConnection::CheckDeadlines() {
  const absl::Time now = absl::Now();
  bool held = false;  // behind a WAIT of ours, which Redis lets nothing on this connection pass
  for (Pending* pending : in_flight_) {
    if (!pending->answered && now >= pending->deadline) {
      // The breaker first: the caller may send its next call from the answer's callback. A
      // call held by our own WAIT says nothing of the node.
      if (!held && pending->deadline - pending->sent_at >= breaker_->options().shortest_counted) {
        breaker_->TimedOut(now);
      }
      Answer(*pending, StoreError(StoreErrorKind::kTimeout, "Redis did not answer in time"));
    }
    held = held || pending->holds_connection;
  }
  const State state = state_.load(std::memory_order_relaxed);
  if (state == State::kConnecting && now - connect_started_ >= options_.connect_timeout) {
    Log(Severity::kWarning, "store",
        absl::StrCat("connecting to Redis at ", options_.host, ":", options_.port,
                     " timed out", resolution_ != nullptr ? " (resolving the name)" : ""));
    Drop(/*reconnect=*/true);
  } else if (state == State::kConnected && !in_flight_.empty() &&
             now - in_flight_.front()->sent_at >= options_.stall_timeout) {
    Log(Severity::kWarning, "store",
        absl::StrCat("Redis at ", options_.host, ":", options_.port, " has not answered for ",
                     absl::FormatDuration(options_.stall_timeout), "; reconnecting"));
    Drop(/*reconnect=*/true);
  }
  deadline_armed_at_ = absl::InfiniteFuture();
  absl::Time due = NextDue();
  // Nothing due: stand by for direct writes, while commands keep coming.
  if (due == absl::InfiniteFuture() && state_.load(std::memory_order_relaxed) == State::kConnected &&
      now - last_activity_ < kStandbyFor) {
    due = now + kStandby;
  }
  if (due != absl::InfiniteFuture()) ArmDeadlineTimer(due);
}

void RedisConnection::SetState(State state) {
  const State before = state_.exchange(state);
  const bool was_connected = before == State::kConnected;
  const bool is_connected = state == State::kConnected;
  if (was_connected != is_connected && events_.on_state) events_.on_state(is_connected);
}

void RedisConnection::Answer(Pending& pending, absl::StatusOr<const redisReply*> reply) {
  if (pending.answered) return;
  pending.answered = true;
  pending.done(std::move(reply));
}

void RedisConnection::OnWake(int fd, short, void* self) {
  uint64_t count = 0;
  (void)!read(fd, &count, sizeof(count));
  auto* connection = static_cast<RedisConnection*>(self);
  std::lock_guard<std::mutex> lock(connection->io_mutex_);
  connection->DrainInbox();
}

void RedisConnection::OnDeadlineTimer(int, short, void* self) {
  auto* connection = static_cast<RedisConnection*>(self);
  std::lock_guard<std::mutex> lock(connection->io_mutex_);
  connection->CheckDeadlines();
}

void RedisConnection::OnReconnectTimer(int, short, void* self) {
  auto* connection = static_cast<RedisConnection*>(self);
  std::lock_guard<std::mutex> lock(connection->io_mutex_);
  connection->Connect();
}

void RedisConnection::OnConnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<RedisConnection*>(context->data);
  if (self->context_ != context) return;
  if (status != REDIS_OK) {
    static metrics::EveryFewSeconds throttle(5);
    if (throttle.Due()) {
      Log(Severity::kWarning, "store",
          absl::StrCat("cannot connect to Redis at ", self->options_.host, ":",
                       self->options_.port, ": ", context->errstr));
    }
    self->context_ = nullptr;  // hiredis frees it
    self->SetState(State::kDown);
    self->ScheduleReconnect();
    return;
  }
  self->Authenticate();
}

void RedisConnection::Authenticate() {
  if (options_.password.empty()) {
    Connected();
    return;
  }
  // Still kConnecting: commands fail at once until Redis answers, and connect_timeout covers
  // the answer as it covers the connection.
  if (options_.user.empty()) {
    redisAsyncCommand(context_, &RedisConnection::OnAuth, nullptr, "AUTH %b",
                      options_.password.data(), options_.password.size());
  } else {
    redisAsyncCommand(context_, &RedisConnection::OnAuth, nullptr, "AUTH %b %b",
                      options_.user.data(), options_.user.size(), options_.password.data(),
                      options_.password.size());
  }
}

void RedisConnection::OnAuth(redisAsyncContext* context, void* reply, void*) {
  auto* self = static_cast<RedisConnection*>(context->data);
  if (self->context_ != context || reply == nullptr) return;  // dropped meanwhile
  const auto* answer = static_cast<const redisReply*>(reply);
  if (answer->type != REDIS_REPLY_ERROR) {
    self->Connected();
    return;
  }
  static metrics::EveryFewSeconds throttle(5);
  if (throttle.Due()) {
    Log(Severity::kError, "store",
        absl::StrCat("Redis at ", self->options_.host, ":", self->options_.port,
                     " refused sendgate's credentials (user '",
                     self->options_.user.empty() ? "default" : self->options_.user,
                     "'): ", absl::string_view(answer->str, answer->len)));
  }
  self->Drop(true);
}

void RedisConnection::Connected() {
  backoff_ = options_.reconnect_min;
  SetState(State::kConnected);
  Log(Severity::kInfo, "store",
      absl::StrCat("connected to Redis at ", options_.host, ":", options_.port));
}

void RedisConnection::OnDisconnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<RedisConnection*>(context->data);
  if (self->context_ != context) return;
  Log(Severity::kWarning, "store",
      absl::StrCat("lost the connection to Redis at ", self->options_.host, ":",
                   self->options_.port, status == REDIS_OK ? "" : ": ", context->errstr));
  self->context_ = nullptr;
  self->SetState(State::kDown);
  self->ScheduleReconnect();
}

void RedisConnection::OnReply(redisAsyncContext* context, void* reply, void* pending_ptr) {
  auto* self = static_cast<RedisConnection*>(context->data);
  auto* pending = static_cast<Pending*>(pending_ptr);
  auto it = std::find(self->in_flight_.begin(), self->in_flight_.end(), pending);
  if (it != self->in_flight_.end()) self->in_flight_.erase(it);
  const auto* redis_reply = static_cast<const redisReply*>(reply);
  if (redis_reply != nullptr && !pending->answered) self->breaker_->AnsweredInTime();
  if (IsFunctionNotFound(redis_reply) && pending->function_call && !pending->answered) {
    // Redis lost the library (a new or emptied Redis, FUNCTION FLUSH): load it, then send the
    // same call again; both go out in this order on this connection.
    if (self->events_.on_library_reload) self->events_.on_library_reload();
    self->LoadLibrary(pending->deadline);
    pending->function_call = false;
    self->Dispatch(pending);
    return;
  }
  if (redis_reply == nullptr) {
    Answer(*pending, StoreError(StoreErrorKind::kUnavailable, "the connection to Redis was lost"));
  } else if (pending->replicas > 0 && Wrote(redis_reply) && !pending->answered) {
    if (self->events_.on_reply) self->events_.on_reply(absl::Now() - pending->sent_at);
    self->WaitForReplicas(pending, redis_reply);
  } else {
    if (self->events_.on_reply) self->events_.on_reply(absl::Now() - pending->sent_at);
    Answer(*pending, redis_reply);
  }
  delete pending;
}

NodeConnections::NodeConnections(const ConnectionOptions& options,
                                 const ConnectionEvents& events, int for_calls, bool waits_apart)
    : breaker_(NodeBreaker(options, events)) {
  for (int i = 0; i < std::max(1, for_calls); ++i) {
    calls_.push_back(std::make_unique<RedisConnection>(options, events, breaker_));
  }
  if (waits_apart) waits_ = std::make_unique<RedisConnection>(options, events, breaker_);
}

RedisConnection& NodeConnections::For(uint64_t spread, int replicas) const {
  if (replicas > 0 && waits_ != nullptr) return *waits_;
  return *calls_[spread % calls_.size()];
}

bool NodeConnections::connected() const {
  for (const auto& connection : calls_) {
    if (!connection->connected()) return false;
  }
  return waits_ == nullptr || waits_->connected();
}

}  // namespace sendgate::store
