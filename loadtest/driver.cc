#include "loadtest/driver.h"

#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
#include "sendgate/v1/diagnostics.grpc.pb.h"
#include "sendgate/v1/preferences.grpc.pb.h"

namespace sendgate::loadtest {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Every thread starts issuing at the same instant, once its connections are up.
void WaitUntil(int64_t steady_nanos) {
  const int64_t now = NowNanos();
  if (steady_nanos > now) std::this_thread::sleep_for(std::chrono::nanoseconds(steady_nanos - now));
}

gpr_timespec Timespec(int64_t steady_nanos) {
  const int64_t delta = steady_nanos - NowNanos();
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos(std::max<int64_t>(delta, 0), GPR_TIMESPAN));
}

// Separate HTTP/2 connections: a distinct channel argument keeps gRPC from sharing subchannels.
std::vector<std::shared_ptr<grpc::Channel>> Connect(const RunOptions& options, int thread) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < options.connections; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("sendgate.loadtest.connection", thread * 1000 + i);
    channels.push_back(grpc::CreateCustomChannel(options.target, options.credentials,
                                                 arguments));
  }
  return channels;
}

void Count(const v1::DecideResponse& response, Results& results) {
  switch (response.outcome()) {
    case v1::ALLOW: ++results.allow; break;
    case v1::DENY: ++results.deny; break;
    case v1::DEFER: ++results.defer; break;
    default: break;
  }
  if (response.degraded()) ++results.degraded;
  if (response.reasons_size() > 0 && response.reasons(0).code() == v1::Reason::INVALID_REQUEST) {
    ++results.invalid;
  }
}

// When requests are due and which of them are measured; shared by every driver.
class Schedule {
 public:
  Schedule(const RunOptions& options, int64_t start)
      : options_(options),
        start_(start),
        measure_from_(options.requests > 0 ? start
                                           : start + absl::ToInt64Nanoseconds(options.warmup)),
        end_(options.requests > 0
                 ? INT64_MAX
                 : measure_from_ + absl::ToInt64Nanoseconds(options.duration)),
        interval_(options.rate > 0 ? 1e9 * options.threads / options.rate : 0),
        budget_(options.requests > 0 ? (options.requests + options.threads - 1) / options.threads
                                     : UINT64_MAX) {}

  bool open_loop() const { return interval_ > 0; }
  // The intended instant of this thread's next request, in open loop.
  int64_t next_due() const { return start_ + static_cast<int64_t>(issued_ * interval_); }
  bool exhausted(int64_t now) const { return issued_ >= budget_ || now >= end_; }
  bool measured(int64_t intended) const { return intended >= measure_from_ && intended < end_; }
  // Takes the next request; returns its intended instant.
  int64_t Take(int64_t now) {
    const int64_t due = open_loop() ? next_due() : now;
    ++issued_;
    return due;
  }
  int64_t end() const { return end_; }

 private:
  const RunOptions& options_;
  const int64_t start_;
  const int64_t measure_from_;
  const int64_t end_;
  const double interval_;
  const uint64_t budget_;
  uint64_t issued_ = 0;
};

// Requests outstanding at most, per thread, so an overloaded target cannot exhaust memory.
constexpr int kMaxOutstanding = 20000;

struct UnaryCall {
  grpc::ClientContext context;
  grpc::Status status;
  int64_t intended = 0;
  v1::DecideRequest request;
  v1::DecideResponse response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::DecideResponse>> decide;
  v1::PingRequest ping_request;
  v1::PingResponse ping_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::PingResponse>> ping;
  v1::UpdatePreferencesRequest update_request;
  v1::ContactPreferences update_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ContactPreferences>> update;
};

// Unary calls: completions are taken by a thread of their own, blocked on the queue; requests
// are issued by this thread at their due instants (open loop: a precise sleep, since the
// queue's own timeouts are only millisecond-accurate) or by the completion thread as answers
// come back (closed loop).
void RunUnary(const RunOptions& options, int thread, int64_t start, Results& results) {
  std::vector<std::shared_ptr<grpc::Channel>> channels = Connect(options, thread);
  std::vector<std::unique_ptr<v1::Arbiter::Stub>> arbiters;
  std::vector<std::unique_ptr<v1::Diagnostics::Stub>> diagnostics;
  std::vector<std::unique_ptr<v1::Preferences::Stub>> preferences;
  for (auto& channel : channels) {
    arbiters.push_back(v1::Arbiter::NewStub(channel));
    diagnostics.push_back(v1::Diagnostics::NewStub(channel));
    preferences.push_back(v1::Preferences::NewStub(channel));
  }
  Traffic traffic(options.scenario, options.run, options.contacts, 1000 + thread);
  Schedule schedule(options, start);
  grpc::CompletionQueue queue;
  std::atomic<int> outstanding{0};
  uint64_t sequence = 0;

  // Issues the next request of the schedule (the caller checks that there is one).
  auto issue = [&](int64_t now) {
    auto* call = new UnaryCall();
    call->intended = schedule.Take(now);
    const size_t connection = sequence % channels.size();
    ++outstanding;
    ++results.sent;
    if (options.mode == Mode::kPing) {
      call->ping = diagnostics[connection]->AsyncPing(&call->context, call->ping_request, &queue);
      call->ping->Finish(&call->ping_response, &call->status, call);
    } else if (options.update_percent > 0 &&
               static_cast<int>(sequence % 100) < options.update_percent) {
      traffic.FillUpdate(call->update_request);
      call->update =
          preferences[connection]->AsyncUpdate(&call->context, call->update_request, &queue);
      call->update->Finish(&call->update_response, &call->status, call);
    } else {
      traffic.Fill(thread, sequence, call->request);
      call->decide = arbiters[connection]->AsyncDecide(&call->context, call->request, &queue);
      call->decide->Finish(&call->response, &call->status, call);
    }
    ++sequence;
  };

  // Open loop: this thread issues, the completion thread only takes answers. Closed loop: the
  // completion thread does both (the first `concurrency` requests, then one per answer), so
  // that `issue`, `sequence`, `traffic` and `schedule` are only ever used by one thread.
  std::atomic<bool> issuing_done{false};
  std::thread completions([&] {
    if (!schedule.open_loop()) {
      WaitUntil(start);
      for (int i = 0; i < options.concurrency && !schedule.exhausted(NowNanos()); ++i) {
        issue(NowNanos());
      }
      if (outstanding.load() == 0) return;
    }
    void* tag = nullptr;
    bool ok = false;
    while (queue.Next(&tag, &ok)) {
      std::unique_ptr<UnaryCall> call(static_cast<UnaryCall*>(tag));
      const int64_t answered = NowNanos();
      ++results.answered;
      if (!call->status.ok()) {
        ++results.errors;
      } else if (call->update != nullptr) {
        ++results.updates;
      } else if (options.mode != Mode::kPing) {
        Count(call->response, results);
      }
      if (schedule.measured(call->intended)) {
        results.latency.Record(answered - call->intended);
        ++results.measured;
      }
      call.reset();
      if (!schedule.open_loop()) {
        if (schedule.exhausted(answered)) {
          issuing_done = true;
        } else {
          issue(answered);
        }
      }
      if (--outstanding == 0 && issuing_done) queue.Shutdown();
    }
  });

  if (schedule.open_loop()) {
    WaitUntil(start);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // wake at the due instant, not 50 us after
    for (;;) {
      const int64_t due = schedule.next_due();
      if (schedule.exhausted(due)) break;
      const int64_t now = NowNanos();
      if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
      while (outstanding.load() >= kMaxOutstanding) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      issue(NowNanos());
    }
    issuing_done = true;
    ++outstanding;  // a token, so that the last answer and this line agree on who shuts down
    if (--outstanding == 0) queue.Shutdown();
  }
  completions.join();
  if (!schedule.open_loop() && outstanding.load() == 0 && !issuing_done) queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
}

// One DecideStream: writes go one at a time (gRPC allows one outstanding write), a read is
// always posted.
struct Stream {
  enum Op { kStart, kWrite, kRead, kWritesDone, kFinish };
  struct Tag {
    Stream* stream;
    Op op;
  };
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::DecideRequest, v1::DecideResponse>> call;
  std::deque<v1::DecideRequest> writes;  // front is being written when `writing`
  v1::DecideResponse response;
  grpc::Status status;
  bool started = false;
  bool writing = false;
  bool closing = false;
  bool done = false;
  int outstanding = 0;
  Tag tags[5] = {{this, kStart}, {this, kWrite}, {this, kRead}, {this, kWritesDone}, {this, kFinish}};
};

void RunStream(const RunOptions& options, int thread, int64_t start, Results& results) {
  std::vector<std::shared_ptr<grpc::Channel>> channels = Connect(options, thread);
  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<v1::Arbiter::Stub>> stubs;
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < options.streams; ++i) {
    stubs.push_back(v1::Arbiter::NewStub(channels[i % channels.size()]));
    streams.push_back(std::make_unique<Stream>());
    Stream& stream = *streams.back();
    stream.call = stubs.back()->PrepareAsyncDecideStream(&stream.context, &queue);
    stream.call->StartCall(&stream.tags[Stream::kStart]);
  }
  Traffic traffic(options.scenario, options.run, options.contacts, 2000 + thread);
  Schedule schedule(options, start);
  WaitUntil(start);
  // Intended instants by sequence number (read back from the response's message_id).
  constexpr uint64_t kRing = 1 << 20;
  std::vector<int64_t> intended(kRing);
  uint64_t sequence = 0;
  int outstanding = 0;
  const int window = std::max(1, options.concurrency / options.streams);

  auto write_next = [](Stream& stream) {
    if (stream.started && !stream.writing && !stream.writes.empty()) {
      stream.writing = true;
      stream.call->Write(stream.writes.front(), &stream.tags[Stream::kWrite]);
    }
  };
  auto issue = [&](Stream& stream, int64_t now) {
    intended[sequence % kRing] = schedule.Take(now);
    stream.writes.emplace_back();
    traffic.Fill(thread, sequence, stream.writes.back());
    ++sequence;
    ++stream.outstanding;
    ++outstanding;
    ++results.sent;
    write_next(stream);
  };
  auto close_idle = [&](int64_t now) {
    if (!schedule.exhausted(now)) return;
    for (auto& stream : streams) {
      if (stream->started && !stream->closing && stream->outstanding == 0 && !stream->writing) {
        stream->closing = true;
        stream->call->WritesDone(&stream->tags[Stream::kWritesDone]);
      }
    }
  };

  size_t next_stream = 0;
  int finished = 0;
  while (finished < options.streams) {
    const int64_t now = NowNanos();
    if (schedule.open_loop()) {
      while (!schedule.exhausted(now) && schedule.next_due() <= now &&
             outstanding < kMaxOutstanding) {
        issue(*streams[next_stream++ % streams.size()], now);
      }
    } else {
      for (auto& stream : streams) {
        while (stream->started && !schedule.exhausted(now) && stream->outstanding < window) {
          issue(*stream, now);
        }
      }
    }
    close_idle(now);
    const int64_t wake = schedule.open_loop() && !schedule.exhausted(now) ? schedule.next_due()
                                                                         : now + 100000000;
    void* raw = nullptr;
    bool ok = false;
    grpc::CompletionQueue::NextStatus next = queue.AsyncNext(&raw, &ok, Timespec(wake));
    while (next == grpc::CompletionQueue::GOT_EVENT) {
      auto* tag = static_cast<Stream::Tag*>(raw);
      Stream& stream = *tag->stream;
      switch (tag->op) {
        case Stream::kStart:
          stream.started = ok;
          if (ok) stream.call->Read(&stream.response, &stream.tags[Stream::kRead]);
          write_next(stream);
          break;
        case Stream::kWrite:
          stream.writing = false;
          stream.writes.pop_front();
          if (ok) write_next(stream);
          break;
        case Stream::kRead: {
          if (!ok) {
            stream.call->Finish(&stream.status, &stream.tags[Stream::kFinish]);
            break;
          }
          --stream.outstanding;
          --outstanding;
          ++results.answered;
          Count(stream.response, results);
          const std::string& id = stream.response.message_id();
          uint64_t number = 0;
          if (absl::SimpleAtoi(id.substr(id.rfind('-') + 1), &number)) {
            const int64_t due = intended[number % kRing];
            if (schedule.measured(due)) {
              results.latency.Record(NowNanos() - due);
              ++results.measured;
            }
          }
          stream.call->Read(&stream.response, &stream.tags[Stream::kRead]);
          break;
        }
        case Stream::kWritesDone:
          break;
        case Stream::kFinish:
          results.errors += stream.outstanding;  // sent but never answered
          results.answered += stream.outstanding;
          outstanding -= stream.outstanding;
          stream.outstanding = 0;
          stream.done = true;
          ++finished;
          break;
      }
      next = queue.AsyncNext(&raw, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC));
    }
  }
  queue.Shutdown();
  void* raw = nullptr;
  bool ok = false;
  while (queue.Next(&raw, &ok)) {
  }
}

}  // namespace

bool RunLoad(const RunOptions& options, Results& results) {
  auto probe = grpc::CreateChannel(options.target, options.credentials);
  if (!probe->WaitForConnected(gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                            gpr_time_from_seconds(5, GPR_TIMESPAN)))) {
    std::fprintf(stderr, "cannot reach %s\n", options.target.c_str());
    return false;
  }
  const int64_t start = NowNanos() + 100000000;  // let every thread connect first
  std::atomic<bool> running{true};
  std::thread progress([&] {
    uint64_t before = 0;
    int second = 0;
    while (running.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const uint64_t answered = results.answered.load();
      if (running.load()) {
        std::fprintf(stderr, "  %3ds  sent %llu  answered %llu  (%llu/s)\n", ++second,
                     static_cast<unsigned long long>(results.sent.load()),
                     static_cast<unsigned long long>(answered),
                     static_cast<unsigned long long>(answered - before));
      }
      before = answered;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, t] {
      if (options.mode == Mode::kStream) {
        RunStream(options, t, start, results);
      } else {
        RunUnary(options, t, start, results);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  running = false;
  progress.join();
  results.measured_time =
      options.requests > 0 ? absl::Nanoseconds(NowNanos() - start) : options.duration;
  return true;
}

}  // namespace sendgate::loadtest
