#include "service/store/redis_connection.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/metrics/log.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

using metrics::Log;
using metrics::Severity;

// How often waiting commands are checked against their deadlines.
const timeval kTick = {0, 1000};

bool IsErrorStartingWith(const redisReply* reply, absl::string_view prefix) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
         absl::StartsWith(absl::string_view(reply->str, reply->len), prefix);
}

bool IsFunctionNotFound(const redisReply* reply) {
  return IsErrorStartingWith(reply, "ERR Function not found");
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

}  // namespace

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

RedisConnection::RedisConnection(ConnectionOptions options, ConnectionEvents events)
    : options_(std::move(options)), events_(std::move(events)), backoff_(options_.reconnect_min) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  base_ = event_base_new();
  wake_event_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &OnWake, this);
  tick_event_ = event_new(base_, -1, EV_PERSIST, &OnTick, this);
  reconnect_event_ = event_new(base_, -1, 0, &OnReconnectTimer, this);
  event_add(wake_event_, nullptr);
  thread_ = std::thread([this] { Run(); });
}

RedisConnection::~RedisConnection() {
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    stopping_ = true;
  }
  Wake(wake_fd_);
  thread_.join();
  event_free(wake_event_);
  event_free(tick_event_);
  event_free(reconnect_event_);
  event_base_free(base_);
  close(wake_fd_);
}

void RedisConnection::Send(std::string wire, absl::Time deadline, Callback done) {
  if (state_.load(std::memory_order_relaxed) == State::kDown) {
    done(StoreError(StoreErrorKind::kUnavailable, "Redis is not connected"));
    return;
  }
  Submit(new Pending{.wire = std::move(wire), .deadline = deadline, .done = std::move(done)});
}

void RedisConnection::SendFcall(std::string wire, absl::Time deadline, Callback done) {
  if (state_.load(std::memory_order_relaxed) == State::kDown) {
    done(StoreError(StoreErrorKind::kUnavailable, "Redis is not connected"));
    return;
  }
  Submit(new Pending{.wire = std::move(wire),
                     .function_call = true,
                     .deadline = deadline,
                     .done = std::move(done)});
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
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (!stopping_) {
      inbox_.push_back(pending);
      wake = !wake_pending_;
      wake_pending_ = true;
      pending = nullptr;
    }
  }
  if (pending != nullptr) {
    Answer(*pending, StoreError(StoreErrorKind::kUnavailable, "sendgate is shutting down"));
    delete pending;
    return;
  }
  if (wake) Wake(wake_fd_);
}

void RedisConnection::Run() {
  Connect();
  event_base_dispatch(base_);
}

void RedisConnection::Connect() {
  SetState(State::kConnecting);
  connect_started_ = absl::Now();
  StartTicking();
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
  redisLibeventAttach(context_, base_);
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
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    batch.swap(inbox_);
    wake_pending_ = false;
    stopping = stopping_;
  }
  TakeResolution();
  for (Pending* pending : batch) Dispatch(pending);
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
  pending->sent_at = absl::Now();
  if (!pending->function_call) std::string().swap(pending->wire);  // written
  in_flight_.push_back(pending);
  StartTicking();
}

void RedisConnection::StartTicking() {
  if (ticking_) return;
  ticking_ = true;
  event_add(tick_event_, &kTick);
}

void RedisConnection::CheckDeadlines() {
  const absl::Time now = absl::Now();
  for (Pending* pending : in_flight_) {
    if (!pending->answered && now >= pending->deadline) {
      Answer(*pending, StoreError(StoreErrorKind::kTimeout, "Redis did not answer in time"));
    }
  }
  const State state = state_.load(std::memory_order_relaxed);
  if (state == State::kConnecting && now - connect_started_ > options_.connect_timeout) {
    Log(Severity::kWarning, "store",
        absl::StrCat("connecting to Redis at ", options_.host, ":", options_.port,
                     " timed out", resolution_ != nullptr ? " (resolving the name)" : ""));
    Drop(/*reconnect=*/true);
  } else if (state == State::kConnected && !in_flight_.empty() &&
             now - in_flight_.front()->sent_at > options_.stall_timeout) {
    Log(Severity::kWarning, "store",
        absl::StrCat("Redis at ", options_.host, ":", options_.port, " has not answered for ",
                     absl::FormatDuration(options_.stall_timeout), "; reconnecting"));
    Drop(/*reconnect=*/true);
  }
  if (in_flight_.empty() && state_.load(std::memory_order_relaxed) != State::kConnecting) {
    ticking_ = false;
    event_del(tick_event_);
  }
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
  static_cast<RedisConnection*>(self)->DrainInbox();
}

void RedisConnection::OnTick(int, short, void* self) {
  static_cast<RedisConnection*>(self)->CheckDeadlines();
}

void RedisConnection::OnReconnectTimer(int, short, void* self) {
  static_cast<RedisConnection*>(self)->Connect();
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
  self->backoff_ = self->options_.reconnect_min;
  self->SetState(State::kConnected);
  Log(Severity::kInfo, "store",
      absl::StrCat("connected to Redis at ", self->options_.host, ":", self->options_.port));
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
  } else {
    if (self->events_.on_reply) self->events_.on_reply(absl::Now() - pending->sent_at);
    Answer(*pending, redis_reply);
  }
  delete pending;
}

}  // namespace sendgate::store
